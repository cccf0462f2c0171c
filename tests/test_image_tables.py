"""r_entropy selection and Tables 2/5 from hand-made evaluation JSON records (docs/images.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaepriors.core.reporting.extractors import describe_extractor
from vaepriors.studies.images.paper_values import (
    TABLE2, TABLE2_CONFIGURATIONS, TABLE2_R_ENTROPY, TABLE5, TABLE5_CONFIGURATIONS, TABLE5_R_ENTROPY,
)
from vaepriors.studies.images.selection import (
    NO_FINITE_R, SELECTED, MissingKeyError, load_records, records_frame, select_r_entropy, sweep_summary,
)
from vaepriors.studies.images.tables import TABLE_METRICS, PriorColumn, table2, table5

NAN = float("nan")
INCEPTION, CLASSIFIER = "inception-v3-compat", "classifier:cifar10"
# Hand-computed for the values (1, 2, 4): mean 7/3, population std / sqrt(3) = sqrt(14/27).
MEAN, SEM = 7 / 3, math.sqrt(14 / 27)


def _record(dataset: str, configuration: str, r: float, seed: int, fid: float, *, diverged: bool = False,
            extractor: str = INCEPTION, standard: float | None = None, probe: float = 0.5) -> dict:
    """One evaluation JSON record: FID(GEN) paper = `fid`, the other metrics derived from it or from `probe`."""
    return {
        "dataset": dataset, "configuration": configuration, "r_entropy": r, "seed": seed,
        "checkpoint_policy": "best_fid", "selected_epoch": 80, "diverged": diverged, "fid_extractor": extractor,
        "fid_gen_paper": fid, "fid_gen_standard": 10 * fid if standard is None else standard,
        "fid_rec_paper": fid + 1, "fid_rec_standard": 10 * fid + 1, "precision": 0.6, "recall": 0.4,
        "entropy": 0.9, "svm_few": probe, "svm_many": probe, "knn_few": probe, "knn_many": probe,
        "svm_few_mean": probe, "svm_many_mean": probe, "knn_few_mean": probe, "knn_many_mean": probe,
    }


def _seeds(dataset: str, configuration: str, r: float, fids, **kwargs) -> list[dict]:
    return [_record(dataset, configuration, r, seed, fid, **kwargs) for seed, fid in enumerate(fids)]


def _sweep() -> list[dict]:
    """mog10: r=0 mean 4; r=1 mean 2 (a NaN and a diverged seed left out); r=10 all diverged (lowest raw FID);
    r=100 mean 2 (tie with r=1). mog100: every run diverged or NaN."""
    return (_seeds("mnist", "mog10", 0, (3.0, 4.0, 5.0))
            + _seeds("mnist", "mog10", 1, (2.0, NAN)) + [_record("mnist", "mog10", 1, 2, 0.5, diverged=True)]
            + [_record("mnist", "mog10", 10, seed, 0.1, diverged=True) for seed in range(3)]
            + _seeds("mnist", "mog10", 100, (1.0, 3.0), standard=0.0)
            + [_record("mnist", "mog100", 0, 0, 1.0, diverged=True), _record("mnist", "mog100", 0, 1, NAN)])


def test_selection_picks_lowest_mean_fid_and_handles_failures():
    records = records_frame(_sweep())
    selection = select_r_entropy(records).set_index("configuration")
    mog10 = selection.loc["mog10"]
    assert (mog10["r_entropy"], mog10["status"], mog10["selection_mean"]) == (1.0, SELECTED, 2.0)
    assert (mog10["n_r"], mog10["n_selectable_r"]) == (4, 3)  # r=10 cannot be chosen
    mog100 = selection.loc["mog100"]
    assert mog100["status"] == NO_FINITE_R and np.isnan(mog100["r_entropy"]) and mog100["n_selectable_r"] == 0
    by_standard = select_r_entropy(records, key="fid_gen_standard").set_index("configuration")
    assert by_standard.loc["mog10", "r_entropy"] == 100.0  # the key is a parameter


def test_sweep_summary_counts_left_out_runs():
    sweep = sweep_summary(records_frame(_sweep()), ["fid_gen_paper"]).set_index(["configuration", "r_entropy"])
    assert list(sweep.loc["mog10"].index) == [0.0, 1.0, 10.0, 100.0]
    r1 = sweep.loc[("mog10", 1.0)]
    assert (r1["mean"], r1["n"], r1["n_runs"], r1["n_diverged"]) == (2.0, 1, 3, 1)
    r10 = sweep.loc[("mog10", 10.0)]
    assert np.isnan(r10["mean"]) and (r10["n"], r10["n_diverged"]) == (0, 3)


def _write(directory: Path, records: list[dict]) -> list[Path]:
    paths = []
    for i, record in enumerate(records):
        path = directory / f"{record['dataset']}_{record['configuration']}_{i}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


def _table_inputs(tmp_path: Path) -> list[Path]:
    """MNIST: SG, MoG(100) (r=0 best, seeds 1, 2, 4), MoG(100)+IP, MoG(10) all NaN; CIFAR-10: SG, classifier FID."""
    records = (_seeds("mnist", "sg", 0, (5.0, 5.0, 5.0), probe=0.9)
               + _seeds("mnist", "mog100", 0, (1.0, 2.0, 4.0), probe=0.95)
               + _seeds("mnist", "mog100", 10, (3.0, 3.0, 3.0), probe=0.99)
               + _seeds("mnist", "mog100_ip", 10, (2.5, 2.5), probe=0.8)
               + _seeds("mnist", "mog10", 0, (NAN, NAN))
               + _seeds("cifar10", "sg", 0, (4.0, 6.0), extractor=CLASSIFIER))
    return _write(tmp_path, records)


def _cell(long: pd.DataFrame, dataset: str, configuration: str, metric: str, selected: bool = True) -> pd.Series:
    hit = long[(long.dataset == dataset) & (long.configuration == configuration) & (long.metric == metric)
               & (long.selected == selected)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_table5_chosen_r_statistics_paper_values_and_csv_sweep(tmp_path):
    long = table5.write(_table_inputs(tmp_path), tmp_path / "t5.tex", tmp_path / "t5.csv")
    fid = _cell(long, "mnist", "mog100", "fid_gen_paper")
    assert (fid["r_entropy"], fid["n"]) == (0.0, 3)
    assert (fid["mean"], fid["sem"]) == pytest.approx((MEAN, SEM))
    assert (fid["paper_mean"], fid["paper_pm"], fid["paper_r_entropy"], fid["paper_comparable"]) == (
        1.322, 0.044, 10.0, True)
    not_chosen = _cell(long, "mnist", "mog100", "svm_few", selected=False)  # the sweep keeps r = 10 too
    assert (not_chosen["r_entropy"], not_chosen["mean"]) == pytest.approx((10.0, 0.99))
    csv = pd.read_csv(tmp_path / "t5.csv")
    assert len(csv) == len(long) and set(csv[csv.configuration == "mog100"].r_entropy) == {0.0, 10.0}
    assert list(csv.dataset.unique()) == ["mnist", "cifar10"]  # the paper's order
    assert list(csv.configuration.unique()) == ["sg", "mog10", "mog100", "mog100_ip"]
    assert {"svm_few_mean", "fid_rec_standard"} <= set(csv.metric)
    assert (csv[csv.configuration == "mog10"].selection_status == NO_FINITE_R).all()
    cifar = _cell(long, "cifar10", "sg", "fid_gen_paper")
    assert cifar["paper_mean"] == 4.424 and not cifar["paper_comparable"]
    assert _cell(long, "cifar10", "sg", "svm_few")["paper_comparable"]


def test_table5_latex_cells_bold_labels_and_absent_configurations(tmp_path):
    table5.write(_table_inputs(tmp_path), tmp_path / "t5.tex", tmp_path / "t5.csv")
    tex = (tmp_path / "t5.tex").read_text()
    assert rf"\textbf{{{MEAN:.3f} $\pm$ {SEM:.3f}}}" in tex  # MoG(100) has the lowest MNIST FID(GEN)
    assert r"\textbf{0.950 $\pm$ 0.000}" in tex and r"\textbf{0.990" not in tex  # SVM at the chosen r only
    assert r"1.414 $\pm$ 0.044" in tex and r"\textbf{1.322 $\pm$ 0.044}" in tex  # paper, bold among shown columns
    assert "FID(GEN) paper-compatible, Inception" in tex and "FID(GEN) standard, Inception" in tex
    assert "FID(GEN) paper-compatible, classifier features" in tex and "paper (Inception, not comparable)" in tex
    assert "MoG(10)" in tex and "none" in tex  # the all-NaN configuration keeps its column, marked
    assert "LC+IP" not in tex and " LC " not in tex and "MoG(100)" in tex  # absent configurations: no column
    assert "0.988" not in tex  # the paper's MoG(10) LC+IP MNIST entropy: its column is absent


def test_table2_keeps_sg_and_mog100_only(tmp_path):
    long = table2.write(_table_inputs(tmp_path), tmp_path / "t2.tex", tmp_path / "t2.csv")
    assert set(long.configuration) == {"sg", "mog100", "mog100_ip"}
    tex = (tmp_path / "t2.tex").read_text()
    assert "MoG(10)}" not in tex and "MoG(10) " not in tex and "MoG(100)" in tex
    assert r"1.352 $\pm$ 0.09" in tex  # the paper's MNIST MoG(100)+IP FID(GEN)


def test_missing_key_and_mixed_extractors_are_errors(tmp_path):
    broken = _record("mnist", "sg", 0, 0, 1.0)
    del broken["fid_extractor"]
    with pytest.raises(MissingKeyError, match=r"broken\.json.*fid_extractor"):
        path = tmp_path / "broken.json"
        path.write_text(json.dumps(broken))
        load_records([path])
    mixed = _write(tmp_path, [_record("mnist", "sg", 0, 0, 1.0), _record("mnist", "sg", 0, 1, 1.0, extractor=CLASSIFIER)])
    with pytest.raises(ValueError, match="fid_extractor"):
        table5.write(mixed, tmp_path / "t.tex", tmp_path / "t.csv")


def test_configuration_columns_and_extractors():
    order = sorted(["mog100_lc_ip", "mog10_ip", "sg", "mog100", "mog10_lc", "mog10"], key=PriorColumn.parse)
    assert order == ["sg", "mog10", "mog10_ip", "mog10_lc", "mog100", "mog100_lc_ip"]
    assert PriorColumn.parse("mog100_lc_ip").header == ("MoG(100)", "LC+IP")
    with pytest.raises(ValueError, match="vamp"):
        PriorColumn.parse("vamp10")
    assert describe_extractor(INCEPTION) == ("Inception", True)
    assert describe_extractor(CLASSIFIER) == ("classifier features", False)


def test_paper_table2_is_table5_subset_and_matches_paper_bold():
    """Every printed Table 2 cell equals Table 5's; the transcription reproduces the paper's bold FID(GEN) cells."""
    subset = {key: {c: cells[c] for c in TABLE2_CONFIGURATIONS} for key, cells in TABLE5.items()}
    np.testing.assert_equal(TABLE2, subset)
    assert TABLE2_R_ENTROPY == {key: r for key, r in TABLE5_R_ENTROPY.items() if key[1] in TABLE2_CONFIGURATIONS}
    for dataset, best in {"mnist": "mog100_lc_ip", "fmnist": "mog100_lc", "cifar10": "mog100_ip"}.items():
        cells = TABLE5[(dataset, "fid_gen_paper")]
        assert min(cells, key=lambda c: cells[c].mean) == best
    assert set(TABLE5_R_ENTROPY.values()) == {0.0, 1.0, 10.0, 100.0} and len(TABLE5_R_ENTROPY) == 3 * 9
    assert len(TABLE5) == 3 * 7 and all(set(cells) == set(TABLE5_CONFIGURATIONS) for cells in TABLE5.values())
    assert np.isnan(TABLE5[("cifar10", "entropy")]["mog10_lc_ip"].pm)  # printed "0.0" without ±


def test_an_all_diverged_configuration_reads_diverged_in_the_tables_and_figure4_still_renders(tmp_path):
    """Every run of flow_ip diverged (issue 11, fault 2): its cells read 'diverged (3/3)', not the not-run dash, the
    caption says what that means, and Figure 4, whose every configuration has no r to show, is still written with a
    panel that says so instead of failing with "needs at least one input file"."""
    from vaepriors.cli import main

    records = ([_record("mnist", "flow_ip", r, seed, NAN, diverged=True) for r, seed in ((0, 0), (0, 1), (10, 0))]
               + [_record("mnist", "sg", 0, 0, NAN, diverged=False)])
    paths = _write(tmp_path, records)
    table5.write(paths, tmp_path / "t5.tex", tmp_path / "t5.csv")
    tex = (tmp_path / "t5.tex").read_text()
    assert tex.count("diverged (3/3)") == len(TABLE_METRICS) and "diverged ($k$/$n$)" in tex
    latents = str(tmp_path / "images" / "mnist" / "eval" / "flow_ip" / "r0" / "seed0_latents.npz")  # never written
    main(["figure4", "--evaluations", *map(str, paths), "--latents", latents, "--out", str(tmp_path / "figure4.png")])
    assert (tmp_path / "figure4.png").stat().st_size > 0 and (tmp_path / "figure4.pdf").exists()
