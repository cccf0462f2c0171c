"""Reporting: aggregation, the paper tables and the figures, on small synthetic metrics CSVs and samples.npz."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaepriors.core.reporting.statistics import seed_statistics
from vaepriors.studies.toy2d.aggregate import MissingColumnError, read_metrics, summarise
from vaepriors.studies.toy2d.figures import FIGURE6_K, FIGURE6_RANGES, plot_figure3, plot_figure6
from vaepriors.studies.toy2d.paper_values import TABLE1, TABLE3_DANIEL_TAMAR, TABLE3_FOUND, TABLE4
from vaepriors.studies.toy2d.samples import load_samples
from vaepriors.studies.toy2d.selection import select_optimum
from vaepriors.studies.toy2d.tables import table1, table3, table4

COLUMNS = ["dataset", "configuration", "run", "seed", "beta_rec", "beta_kl", "beta_neg", "kl", "diverged_at",
           "grid_size", "gnelbo_paper", "kl_paper", "jsd_paper", "kl_mass", "jsd", "log_likelihood_grid"]


def _row(dataset: str, configuration: str, run: int, kl_paper: float, *, betas=(0.2, 0.3, 0.9),
         diverged_at: str = "", scale: float = 1.0, grid_size: int = 1024) -> dict:
    """One metrics.csv row; every metric is a multiple of kl_paper so the expected statistics are easy to write."""
    return {"dataset": dataset, "configuration": configuration, "run": run, "seed": run,
            "beta_rec": betas[0], "beta_kl": betas[1], "beta_neg": betas[2], "kl": "mc", "diverged_at": diverged_at,
            "grid_size": grid_size, "gnelbo_paper": kl_paper * 1e-7 * scale, "kl_paper": kl_paper,
            "jsd_paper": 2 * kl_paper,
            "kl_mass": kl_paper / 6.25, "jsd": 0.1 * kl_paper, "log_likelihood_grid": -kl_paper}


def _write(path: Path, rows: list[dict], drop: str | None = None) -> Path:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.drop(columns=[drop] if drop else []).to_csv(path, index=False)
    return path


def _seed_rows(dataset: str, configuration: str, values=(1.0, 2.0, 4.0)) -> list[dict]:
    return [_row(dataset, configuration, run, value) for run, value in enumerate(values)]


def _stat(summary: pd.DataFrame, dataset: str, configuration: str, metric: str) -> pd.Series:
    hit = summary[(summary.dataset == dataset) & (summary.configuration == configuration) & (summary.metric == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


# Hand-computed for the values (1, 2, 4): mean 7/3, population std sqrt(14/9), sample std sqrt(7/3).
MEAN, SEM, STD = 7 / 3, math.sqrt(14 / 27), math.sqrt(7 / 3)


def test_seed_statistics_by_hand():
    stats = seed_statistics(np.array([1.0, 2.0, np.nan, 4.0, np.inf]))
    assert stats["n"] == 3
    assert stats["mean"] == pytest.approx(MEAN)
    assert stats["sem"] == pytest.approx(SEM)
    assert stats["std"] == pytest.approx(STD)
    single = seed_statistics(np.array([5.0]))
    assert (single["mean"], single["sem"], single["n"]) == (5.0, 0.0, 1) and math.isnan(single["std"])


def test_summarise_leaves_out_and_counts_diverged_runs(tmp_path):
    rows = _seed_rows("rings", "sintro_sg") + [_row("rings", "sintro_sg", 3, float("nan"), diverged_at="1234"),
                                                _row("rings", "sintro_sg", 4, 100.0, diverged_at="20")]
    summary = summarise(read_metrics([_write(tmp_path / "m.csv", rows)]))
    gnelbo = _stat(summary, "rings", "sintro_sg", "gnelbo_paper_x1e7")
    assert gnelbo["mean"] == pytest.approx(MEAN) and gnelbo["sem"] == pytest.approx(SEM)
    kl = _stat(summary, "rings", "sintro_sg", "kl_paper")
    assert (kl["n"], kl["n_runs"], kl["n_diverged"]) == (3, 5, 2)
    assert kl["std"] == pytest.approx(STD)
    assert _stat(summary, "rings", "sintro_sg", "log_likelihood_grid")["mean"] == pytest.approx(-MEAN)


def test_select_optimum_skips_non_finite_and_diverged_and_keeps_first_tie():
    grid = pd.DataFrame([_row("spiral", "sintro_sg", run, kl, diverged_at=div) for run, kl, div in [
        (0, 3.0, ""), (1, float("nan"), ""), (2, 1.0, ""), (3, float("-inf"), ""), (4, 1.0, ""), (5, 0.5, "900"),
    ]])
    grid["diverged_at"] = grid["diverged_at"].replace("", np.nan)
    assert select_optimum(grid)["run"] == 2
    assert select_optimum(grid.iloc[[1, 3, 5]]) is None


def test_table3_reports_grid_optimum_beside_paper(tmp_path):
    rows = [_row("checkerboard", "sintro_sg", 0, 5.0, betas=(0.2, 0.1, 0.2)),
            _row("checkerboard", "sintro_sg", 1, float("nan"), betas=(1.0, 1.0, 1.0)),
            _row("checkerboard", "sintro_sg", 2, 2.0, betas=(0.05, 0.2, 0.8)),
            _row("checkerboard", "sintro_sg", 3, 2.0, betas=(0.3, 0.3, 0.3)),
            _row("checkerboard", "vae_sg", 4, 0.1, betas=(0.5, 0.5, 0.5))]
    long = table3.write([_write(tmp_path / "grid.csv", rows)], tmp_path / "t3.tex", tmp_path / "t3.csv")
    ours = long[long.dataset == "checkerboard"].set_index("parameter")
    assert ours["ours"].to_dict() == {"beta_rec": 0.05, "beta_kl": 0.2, "beta_neg": 0.8}
    assert ours.loc["beta_kl", "paper"] == TABLE3_FOUND["checkerboard"].beta_kl
    assert ours.loc["beta_kl", "daniel_tamar"] == TABLE3_DANIEL_TAMAR["checkerboard"].beta_kl
    assert (ours["n_grid"].iloc[0], ours["n_selectable"].iloc[0], ours["optimum_run"].iloc[0]) == (4, 3, 2)
    assert long[long.dataset == "rings"]["ours"].isna().all()
    tex = (tmp_path / "t3.tex").read_text()
    assert "3/4" in tex and "Daniel \\& Tamar" in tex and "--" in tex
    assert pd.read_csv(tmp_path / "t3.csv").shape == long.shape


def test_table1_tex_and_csv_hold_ours_and_paper(tmp_path):
    paths = [_write(tmp_path / "a.csv", _seed_rows("8Gaussian", "sintro_sg")),
             _write(tmp_path / "b.csv", _seed_rows("8Gaussian", "vae_sg", (10.0, 10.0)))]
    long = table1.write(paths, tmp_path / "t1.tex", tmp_path / "t1.csv")
    tex = (tmp_path / "t1.tex").read_text()
    assert f"{MEAN:.2f} $\\pm$ {SEM:.2f}" in tex  # ours, sintro_sg
    assert "1.23 $\\pm$ 0.11" in tex and "17.41 $\\pm$ 0.28" in tex  # the paper's 8Gaussian KL / JSD
    assert "--" in tex and "standard error" in tex and "paper-compatible" in tex
    csv = pd.read_csv(tmp_path / "t1.csv")
    assert len(csv) == len(long) == 1 * 6 * 6  # the datasets in the data (8Gaussian) x metrics x configurations
    cell = csv[(csv.dataset == "8Gaussian") & (csv.configuration == "sintro_sg") & (csv.metric == "kl_paper")].iloc[0]
    assert (cell.ours_mean, cell.ours_sem, cell.ours_std, cell.n) == pytest.approx((MEAN, SEM, STD, 3))
    assert (cell.paper_mean, cell.paper_pm) == (1.23, 0.11)
    missing = csv[(csv.configuration == "sintro_mog_lc_ip") & (csv.dataset == "8Gaussian")]
    assert missing.ours_mean.isna().all() and (missing.n == 0).all()
    assert csv[csv.metric == "kl_mass"].paper_mean.isna().all()


def test_a_dataset_the_paper_lacks_is_a_table_row_not_dropped(tmp_path):
    paths = [_write(tmp_path / "a.csv", _seed_rows("8Gaussian", "sintro_sg")),
             _write(tmp_path / "b.csv", _seed_rows("pinwheel", "sintro_sg"))]
    long = table1.write(paths, tmp_path / "t1.tex", tmp_path / "t1.csv")
    assert list(dict.fromkeys(long["dataset"])) == ["8Gaussian", "pinwheel"]  # the paper's first, then others
    row = long[(long.dataset == "pinwheel") & (long.configuration == "sintro_sg") & (long.metric == "kl_paper")]
    assert row.ours_mean.iloc[0] == pytest.approx(MEAN) and math.isnan(row.paper_mean.iloc[0])
    assert "pinwheel" in (tmp_path / "t1.tex").read_text()


def test_table1_on_the_papers_grid_compares_gnelbo(tmp_path):
    table1.write([_write(tmp_path / "a.csv", _seed_rows("8Gaussian", "sintro_sg"))], tmp_path / "t.tex",
                 tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert "gnELBO sums over the 1024$^2$ grid, as the paper's." in tex and "n.c." not in tex
    assert pd.read_csv(tmp_path / "t.csv").paper_comparable.all()


@pytest.mark.parametrize("table", [table1, table4])
def test_gnelbo_on_another_grid_is_marked_not_comparable(tmp_path, table):
    rows = [_row(d, c, run, 1.0, grid_size=256) for d in ("8Gaussian", "rings")
            for c in ("sintro_sg", "baseline_mc") for run in range(2)]
    long = table.write([_write(tmp_path / "a.csv", rows)], tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert "Our gnELBO sums over a 256$^2$ grid, the paper's over 1024$^2$" in tex
    assert "ours reads about 16$\\times$ larger and the paper's gnELBO is marked (n.c.): not comparable." in tex
    gnelbo = long.metric == "gnelbo_paper_x1e7"
    assert not long[gnelbo].paper_comparable.any() and long[~gnelbo].paper_comparable.all()
    assert pd.read_csv(tmp_path / "t.csv").paper_comparable.tolist() == long.paper_comparable.tolist()
    marked = [line for line in tex.splitlines() if "(n.c.)" in line and "&" in line]
    assert marked and all("gnELBO" in line or line.lstrip().startswith("&") for line in marked)


def test_gnelbo_grid_not_recorded_is_not_compared(tmp_path):
    path = _write(tmp_path / "a.csv", _seed_rows("8Gaussian", "sintro_sg"), drop="grid_size")
    long = table1.write([path], tmp_path / "t.tex", tmp_path / "t.csv")
    assert "The grid of our gnELBO is not recorded" in (tmp_path / "t.tex").read_text()
    assert not long[long.metric == "gnelbo_paper_x1e7"].paper_comparable.any()


def test_table4_paper_only_columns_and_ours(tmp_path):
    paths = [_write(tmp_path / "c.csv", _seed_rows("spiral", "baseline_closed")),
             _write(tmp_path / "s.csv", _seed_rows("spiral", "baseline_mc", (3.0, 3.0)))]
    long = table4.write(paths, tmp_path / "t4.tex", tmp_path / "t4.csv")
    reported = long[(long.column == "reported_c") & (long.dataset == "spiral") & (long.metric == "kl_paper")].iloc[0]
    assert reported.paper_mean == 8.13 and np.isnan(reported.ours_mean)
    mc = long[(long.column == "ours_reproduced_s") & (long.dataset == "spiral") & (long.metric == "kl_paper")].iloc[0]
    assert (mc.ours_mean, mc.ours_sem, mc.paper_mean) == (3.0, 0.0, 10.26)
    assert not ((long.column == "reported_c") & (long.metric == "kl_mass")).any()
    assert "10.66 $\\pm$ 0.19" in (tmp_path / "t4.tex").read_text()


def test_missing_column_names_file_and_column(tmp_path):
    path = _write(tmp_path / "broken.csv", _seed_rows("rings", "sintro_sg"), drop="kl_paper")
    with pytest.raises(MissingColumnError, match=r"broken\.csv.*kl_paper"):
        table1.write([path], tmp_path / "t.tex", tmp_path / "t.csv")
    grid = _write(tmp_path / "grid.csv", _seed_rows("rings", "sintro_sg"), drop="beta_neg")
    with pytest.raises(MissingColumnError, match=r"grid\.csv.*beta_neg"):
        table3.write([grid], tmp_path / "t.tex", tmp_path / "t.csv")


def test_paper_values_are_internally_consistent():
    """Table 1's S-IntroVAE SG column is Table 4's 'replicated' column; 8Gaussian's optimum equals D&T's."""
    for key, cells in TABLE1.items():
        assert cells["sintro_sg"] == TABLE4[key]["ours_replicated_s"]
    assert TABLE3_FOUND["8Gaussian"] == TABLE3_DANIEL_TAMAR["8Gaussian"]


def _npz(path: Path, dataset: str | None, configuration: str | None, seeds=(3, 0)) -> Path:
    rng = np.random.default_rng(0)
    runs, grid = len(seeds), 32
    fake = np.stack([np.full((256, 2), float(seed)) + rng.normal(size=(256, 2)) for seed in seeds])
    arrays = {"real": rng.normal(size=(256, 2)), "fake": fake, "density": rng.random((runs, grid, grid)),
              "half_width": np.array(2.0), "seeds": np.array(seeds), "run": np.arange(runs)}
    if dataset is not None:
        arrays |= {"dataset": np.array(dataset), "configuration": np.array(configuration)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def test_load_samples_uses_keys_then_path_and_picks_seed_zero(tmp_path):
    keyed = load_samples(_npz(tmp_path / "anything.npz", "rings", "sintro_sg"))
    assert (keyed.dataset, keyed.configuration, keyed.seed) == ("rings", "sintro_sg", 0)
    assert abs(keyed.fake.mean()) < 0.5  # the seed-0 run (index 1), not the seed-3 one
    by_path = load_samples(_npz(tmp_path / "toy" / "spiral" / "seeds" / "sintro_mog_lc" / "samples.npz", None, None))
    assert (by_path.dataset, by_path.configuration) == ("spiral", "sintro_mog_lc")


def _assert_png_and_pdf(png: Path) -> None:
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_figure3_draws_a_row_per_dataset_with_the_runs_present_and_figure6_the_clip_grid(tmp_path):
    paths = [_npz(tmp_path / "a.npz", "8Gaussian", "sintro_sg"), _npz(tmp_path / "b.npz", "rings", "sintro_mog_lc_ip")]
    fig = plot_figure3(paths, tmp_path / "fig" / "figure3.png")
    _assert_png_and_pdf(tmp_path / "fig" / "figure3.png")
    axes = np.array(fig.axes).reshape(2, 7)  # datasets (paper order) x (real + density and samples of 3 settings)
    assert [row[0].get_ylabel() for row in axes] == ["8Gaussian", "Rings"]
    assert [ax.get_title() for ax in axes[0]] == ["real data", "SG density", "SG samples", "MoG LC density",
                                                  "MoG LC samples", "MoG LC+IP density", "MoG LC+IP samples"]
    drawn = {(r, c): bool(axes[r, c].collections or axes[r, c].images) for r in range(2) for c in range(7)}
    assert drawn[(0, 1)] and drawn[(0, 2)] and not drawn[(0, 3)]  # 8Gaussian: SG only, the rest "not run"
    assert drawn[(1, 5)] and drawn[(1, 6)] and not drawn[(1, 1)]  # rings: MoG LC+IP only
    assert axes[1, 3].texts[0].get_text() == "not run"
    seed0 = axes[0, 2].collections[0].get_offsets()  # the samples of seed 0 (fake = seed + noise), within the window
    assert abs(float(np.mean(seed0))) < 0.2 and axes[0, 2].get_xlim() == (-2.0, 2.0)
    fig6 = plot_figure6(tmp_path / "fig" / "figure6.png")
    _assert_png_and_pdf(tmp_path / "fig" / "figure6.png")
    panels = fig6.axes
    assert len(panels) == len(FIGURE6_RANGES) * (1 + len(FIGURE6_K)) and panels[0].get_title() == "fixed $\\beta$ = 1"
    x, clipped = panels[0].lines[1].get_data()  # f_c stays inside [a, b] and equals the identity mid-range
    assert clipped.min() >= float(panels[0].lines[2].get_ydata()[0]) - 1e-6




@pytest.mark.parametrize("mean, sem, n, n_runs, n_diverged, cell", [
    (1.234, 0.05, 3, 3, 0, r"1.23 $\pm$ 0.05"),
    (1.234, 0.0, 1, 1, 0, "1.23"),                     # a single seed has no standard error: the mean alone
    (1.234, 0.05, 2, 3, 1, r"1.23 $\pm$ 0.05$^{(1)}$"),  # one run diverged and is left out
    (math.nan, math.nan, 0, 3, 3, "diverged (3/3)"),
    (math.nan, math.nan, 0, 0, 0, "--"),                 # not run
])
def test_every_table_formats_our_cells_with_one_rule(mean, sem, n, n_runs, n_diverged, cell):
    from vaepriors.core.reporting.latex import ours_cell

    assert ours_cell(mean, sem, n, n_runs, n_diverged) == cell
