"""The reproduction scorecard: verdicts of cells and claims on constructed cases, the studies' cells and claims from
tidy table CSVs, and the rendered scorecard (CSV, Markdown, HTML) through the CLI."""

import math

import pandas as pd
import pytest

from vaepriors.cli import main
from vaepriors.core.reporting.scorecard import CELL_COLUMNS, CellRef, Claim, judge_cells, judge_claims
from vaepriors.core.reporting.verdicts import Estimate, cell_verdict, claim_verdict

PAPER = Estimate(10.0, 1.0, 5)  # the paper's 10 ± 1 (a standard error)


@pytest.mark.parametrize("ours, lower, label, z", [
    (Estimate(12.0, 1.0, 5), True, "reproduced", 2.0 / math.sqrt(2)),      # inside 2 combined SE
    (Estimate(12.8, 1.0, 5), True, "reproduced", 2.8 / math.sqrt(2)),      # z = 1.98
    (Estimate(12.9, 1.0, 5), True, "worse", 2.9 / math.sqrt(2)),           # z = 2.05: outside, higher is worse
    (Estimate(7.0, 1.0, 5), True, "better", -3.0 / math.sqrt(2)),
    (Estimate(7.0, 1.0, 5), False, "worse", -3.0 / math.sqrt(2)),          # an accuracy: lower is worse
    (Estimate(7.0, 1.0, 5), None, "differs", -3.0 / math.sqrt(2)),         # no direction (an entropy)
    (Estimate(12.5, math.nan, 1), True, "worse", 2.5),                     # a single seed: the paper's SE alone
])
def test_a_cell_is_reproduced_within_two_combined_standard_errors(ours, lower, label, z):
    verdict = cell_verdict(ours, PAPER, lower)
    assert verdict.label == label and verdict.z == pytest.approx(z)


def test_a_cell_without_value_or_spread_or_with_another_definition_is_not_comparable_and_says_why():
    printed_alone = Estimate(10.0, math.nan, 1)
    assert cell_verdict(Estimate(10.5), printed_alone, True).reason.startswith("no spread on either side")
    diverged = cell_verdict(Estimate(math.nan, math.nan, 0, 3, 3), PAPER, True)
    assert (diverged.label, diverged.reason) == ("not comparable", "all 3 runs diverged")
    assert cell_verdict(Estimate(math.nan, n=0), PAPER, True).reason == "no value"
    assert cell_verdict(Estimate(10.0, 1.0, 5), Estimate(math.nan), True).reason == "the paper reports no value"
    other = cell_verdict(Estimate(30.0, 1.0, 5), PAPER, True, not_comparable="another FID extractor")
    assert (other.label, other.reason) == ("not comparable", "another FID extractor")
    assert other.z == pytest.approx(20 / math.sqrt(2))  # the distance is still shown
    partly = cell_verdict(Estimate(10.0, 1.0, 4, 5, 1), PAPER, True)
    assert (partly.label, partly.reason) == ("reproduced", "1 of 5 runs diverged")


def test_an_exact_cell_is_reproduced_only_when_equal():
    assert cell_verdict(Estimate(0.3), Estimate(0.3), None, exact=True).label == "reproduced"
    assert cell_verdict(Estimate(0.4), Estimate(0.3), None, exact=True).label == "differs"


@pytest.mark.parametrize("better, worse, lower, label", [
    (Estimate(1.0, 0.1, 5), Estimate(2.0, 0.1, 5), True, "holds"),           # advantage 1 / 0.14 SE
    (Estimate(2.0, 0.1, 5), Estimate(1.0, 0.1, 5), True, "fails"),
    (Estimate(1.0, 0.5, 5), Estimate(1.5, 0.5, 5), True, "not significant"),  # 0.5 / 0.71 SE
    (Estimate(0.9, 0.01, 5), Estimate(0.8, 0.01, 5), False, "holds"),        # higher is better
    (Estimate(1.0), Estimate(2.0), True, "not significant"),                 # single seeds: no spread
    (Estimate(math.nan, n=0, n_runs=2, n_diverged=2), Estimate(2.0, 0.1, 5), True, "not available"),
])
def test_a_claim_holds_or_fails_beyond_two_standard_errors_of_the_difference(better, worse, lower, label):
    assert claim_verdict(better, worse, lower).label == label


def _cells(rows):
    base = dict(study="toy2d", paper="P", table="t1", dataset="d", column="", scale="paper", ours_sem=0.1, n=5,
                n_runs=5, n_diverged=0, paper_pm=0.1, lower_is_better=True, exact=False, not_comparable="")
    return pd.DataFrame([{**base, **row} for row in rows], columns=list(CELL_COLUMNS))


def test_claims_are_checked_on_our_numbers_and_on_the_papers_own():
    cells = judge_cells(_cells([
        dict(row="ip", metric="kl", ours_mean=1.0, paper_mean=2.0),
        dict(row="sg", metric="kl", ours_mean=2.0, paper_mean=1.0)]))
    assert list(cells["verdict"]) == ["better", "worse"]
    claim = Claim("c", "P", "§5.1", "IP beats SG", CellRef("t1", "d", "ip", "kl"), CellRef("t1", "d", "sg", "kl"), True)
    absent = Claim("c2", "P", "§5.1", "x", CellRef("t1", "other", "ip", "kl"), CellRef("t1", "d", "sg", "kl"), True)
    judged = judge_claims([claim, absent], cells).set_index("claim")
    assert judged.loc["c", "verdict"] == "holds" and judged.loc["c", "in_paper"] == "fails"
    assert judged.loc["c", "z"] == pytest.approx(1.0 / math.hypot(0.1, 0.1))
    assert (judged.loc["c2", "verdict"], judged.loc["c2", "reason"]) == ("not available", "not run")


def _write_tables(folder):
    """Tidy CSVs shaped as the tables write them, with values chosen per verdict."""
    toy = pd.DataFrame([
        dict(dataset="8Gaussian", configuration=c, metric="kl_paper", ours_mean=m, ours_sem=0.1, ours_std=0.2, n=5,
             n_runs=5, n_diverged=0, paper_mean=p, paper_pm=0.1, paper_comparable=True)
        for c, m, p in [("sintro_sg", 1.4, 1.23), ("sintro_mog", 3.0, 1.94), ("sintro_mog_ip", 1.0, 2.36),
                        ("sintro_flow_ip", 0.5, math.nan)]])
    toy.to_csv(folder / "table1.csv", index=False)
    dp = pd.DataFrame([
        dict(variant=v, reduction=v, dataset="mnist", regulariser="vae", prior=p, model="VAE", metric="fid",
             mean=m, sem=math.nan, std=0.0, n=1, n_runs=1, n_diverged=0, fid_extractor="inception-v3-compat",
             paper_value=pv, paper_comparable=v == "authors", paper_note="")
        for v, p, m, pv in [("authors", "standard", 140.0, 137.4), ("authors", "decoupled", 120.0, 129.0),
                            ("per_sample", "standard", 90.0, 137.4)]]
        # two moons: no FID, no extractor, no paper value (as the table writes them)
        + [dict(variant="authors", reduction="authors", dataset="moons", regulariser="vae", prior="standard",
                model="VAE", metric="fid", mean=math.nan, sem=math.nan, std=math.nan, n=0, n_runs=1, n_diverged=0,
                fid_extractor=math.nan, paper_value=math.nan, paper_comparable=False, paper_note="")])
    dp.to_csv(folder / "dpvae_table1.csv", index=False)


def test_the_cli_writes_the_scorecard_with_verdicts_computed_from_the_tables(tmp_path):
    _write_tables(tmp_path)
    out = tmp_path / "reproduction"
    main(["reproduction-scorecard", "--toy-table1", str(tmp_path / "table1.csv"), "--dpvae-table1",
          str(tmp_path / "dpvae_table1.csv"), "--scale", "toy2d=paper", "dpvae=iterations 200 (paper 100000)",
          "--provenance", "Configuration: test", "--out-dir", str(out)])
    cells = pd.read_csv(out / "scorecard.csv", keep_default_na=False, na_values=[""])
    toy = cells[cells["study"] == "toy2d"].set_index("row")
    assert toy.loc["sintro_sg", "verdict"] == "reproduced"      # 0.17 / 0.14 = 1.2 SE
    assert toy.loc["sintro_mog", "verdict"] == "worse" and toy.loc["sintro_mog_ip", "verdict"] == "better"
    assert toy.loc["sintro_flow_ip", "reason"] == "the paper reports no value"
    moons = cells[(cells["study"] == "dpvae") & (cells["dataset"] == "moons")].iloc[0]
    assert (moons["verdict"], moons["reason"]) == ("not comparable", "no value")  # no FID on points
    dp = cells[(cells["study"] == "dpvae") & (cells["dataset"] == "mnist")].set_index(["row", "column"])
    assert dp.loc[("vae/standard", "per_sample"), "reason"].startswith("corrected objective")
    assert "reduced scale (iterations 200 (paper 100000))" in dp.loc[("vae/standard", "authors"), "reason"]
    claims = pd.read_csv(out / "claims.csv").set_index("claim")
    ip_sg = claims.loc["toy2d-ip-kl-sintro_mog_ip-sintro_sg-8Gaussian"]
    assert (ip_sg["verdict"], ip_sg["in_paper"]) == ("holds", "fails")  # ours 1.0 vs 1.4; paper 2.36 vs 1.23
    assert claims.loc["dpvae-decoupled-fid-vae-mnist", "verdict"] == "not significant"  # single seeds
    assert claims["section"].str.startswith(("§", "App.")).all()
    markdown, page = (out / "scorecard.md").read_text(), (out / "scorecard.html").read_text()
    assert "Configuration: test; commit " in markdown and "No claim fails on our numbers" in markdown
    assert "## Claims" in markdown and "| sintro_mog_ip | 8Gaussian" not in markdown
    assert page.count("<table>") == 3 and 'class="v-better"' in page and "sintro_flow_ip" not in page


def test_the_cli_names_a_missing_table_and_a_malformed_scale(tmp_path):
    with pytest.raises(SystemExit, match="no table given"):
        main(["reproduction-scorecard", "--out-dir", str(tmp_path)])
    _write_tables(tmp_path)
    with pytest.raises(SystemExit, match="expected STUDY=DESCRIPTION"):
        main(["reproduction-scorecard", "--toy-table1", str(tmp_path / "table1.csv"), "--scale", "toy2d",
              "--out-dir", str(tmp_path)])
