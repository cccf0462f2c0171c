import json
import math

import numpy as np
import pandas as pd
import pytest

from vaepriors.studies.dpvae import figures as dpvae_figures
from vaepriors.studies.dpvae.paper_values import REGULARISERS, TABLE1, TABLE1_METRICS, TABLE1_PRINTED
from vaepriors.studies.dpvae.tables import dpvae_table1


# -- paper values ---------------------------------------------------------------------------------------------------

def test_table1_is_complete_and_spot_checks_against_the_paper():
    assert len(TABLE1) == 3 * len(TABLE1_METRICS)
    assert all(len(cells) == 2 * len(REGULARISERS) for cells in TABLE1.values())
    assert TABLE1[("mnist", "fid")][("vae", "standard")].mean == 137.4
    assert TABLE1[("svhn", "skl_generation_space")][("vae", "standard")].mean == 53.67
    assert TABLE1[("celeba", "batch_nelbo_paper")][("info", "decoupled")].mean == 12.1
    assert TABLE1[("mnist", "fid_lp")][("beta_tc", "standard")].mean == 200.3
    assert TABLE1_PRINTED[("mnist", "batch_nelbo_paper")][("beta_b", "decoupled")] == "2.80"
    assert all(math.isnan(cell.pm) for cells in TABLE1.values() for cell in cells.values())  # no "±" printed
    # the paper's claim: every dpVAE beats its regulariser's FID on MNIST
    fid = TABLE1[("mnist", "fid")]
    assert all(fid[(r, "decoupled")].mean < fid[(r, "standard")].mean for r in REGULARISERS)


# -- Table 1 --------------------------------------------------------------------------------------------------------

def _record(dataset, regulariser, prior, seed, value, diverged=False, extractor="inception-v3-compat",
            variant="authors"):
    """A hand-made evaluation record whose every metric is ``value`` (plus an offset per metric)."""
    image = dataset != "moons"
    return {"variant": variant, "reduction": "authors" if variant == "authors" else "per_sample",
            "dataset": dataset, "regulariser": regulariser, "prior": prior, "seed": seed, "diverged": diverged,
            "fid": value + 100 if image else None, "fid_lp": value + 110 if image else None,
            "fid_extractor": extractor if image else None, "skl": value, "skl_generation_space": value + 0.5,
            "nll_is": value + 50, "batch_nelbo_paper": value / 10, "leakage": []}


def _write(records, folder):
    paths = []
    for i, record in enumerate(records):
        path = folder / f"eval{i}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


@pytest.fixture
def table(tmp_path):
    records = [_record("mnist", "beta_h", "standard", 0, 1.0), _record("mnist", "beta_h", "standard", 1, 3.0),
               _record("mnist", "beta_h", "decoupled", 0, 2.0),
               _record("mnist", "beta_h", "decoupled", 1, float("nan"), diverged=True),
               _record("moons", "beta_h", "decoupled", 0, 4.0)]
    long = dpvae_table1.write(_write(records, tmp_path), tmp_path / "t1.tex", tmp_path / "t1.csv")
    return long, (tmp_path / "t1.tex").read_text(), pd.read_csv(tmp_path / "t1.csv")


def _cell(long, dataset, prior, metric):
    return long[(long["dataset"] == dataset) & (long["prior"] == prior) & (long["metric"] == metric)].iloc[0]


def test_table1_means_and_standard_errors_over_seeds(table):
    long, _, csv = table
    row = _cell(long, "mnist", "standard", "skl")
    assert row["mean"] == pytest.approx(2.0) and row["sem"] == pytest.approx(1.0 / math.sqrt(2)) and row["n"] == 2
    dp = _cell(long, "mnist", "decoupled", "fid")  # the diverged seed is left out and counted
    assert dp["mean"] == pytest.approx(102.0) and dp["n"] == 1 and dp["n_diverged"] == 1 and dp["n_runs"] == 2
    assert len(csv) == len(long) and set(csv["metric"]) == {"fid", "fid_lp", "skl", "skl_generation_space",
                                                            "nll_is", "batch_nelbo_paper"}


def test_table1_puts_the_paper_values_beside_matching_definitions_only(table):
    long, tex, _ = table
    assert _cell(long, "mnist", "standard", "batch_nelbo_paper")["paper_value"] == 4.12
    assert _cell(long, "mnist", "decoupled", "skl_generation_space")["paper_value"] == 1.07
    assert math.isnan(_cell(long, "mnist", "standard", "nll_is")["paper_value"])  # no IS-NLL in the paper
    assert math.isnan(_cell(long, "mnist", "standard", "skl")["paper_value"])
    assert _cell(long, "mnist", "standard", "fid")["paper_comparable"]  # Inception features
    assert "144.2" in tex and "127.1" in tex and "4.12" in tex  # beta-VAE-H / beta-dpVAE-H MNIST cells
    assert r"2.00 $\pm$ 0.71" in tex and r"2.000 $\pm$ 0.000" not in tex
    assert "importance sampled (nats/example)" in tex and "paper's ``NLL" in tex
    assert "$^{(1)}$" in tex  # the diverged seed is marked


def test_table1_omits_configurations_absent_from_the_inputs(table):
    long, tex, _ = table
    assert set(zip(long["regulariser"], long["prior"])) == {("beta_h", "standard"), ("beta_h", "decoupled")}
    assert "130.8" not in tex and "137.4" not in tex  # beta-VAE-B and VAE columns of the paper are not printed
    assert "SVHN" not in tex and "CelebA" not in tex
    assert "Two moons" in tex
    moons_fid = _cell(long, "moons", "decoupled", "fid")
    assert moons_fid["n"] == 0  # two moons has no FID: no FID row for it


def test_table1_marks_paper_fids_as_not_comparable_with_another_extractor(tmp_path):
    records = [_record("mnist", "vae", "standard", 0, 1.0, extractor="classifier:mnist")]
    long = dpvae_table1.write(_write(records, tmp_path), tmp_path / "t.tex", tmp_path / "t.csv")
    assert not _cell(long, "mnist", "standard", "fid")["paper_comparable"]
    assert _cell(long, "mnist", "standard", "batch_nelbo_paper")["paper_comparable"]
    assert "not comparable" in (tmp_path / "t.tex").read_text()


def test_table1_prints_negative_skl_estimates_as_such_with_their_note(tmp_path, table):
    records = [_record("moons", "vae", "standard", 0, -0.3), _record("moons", "vae", "standard", 1, -0.1)]
    long = dpvae_table1.write(_write(records, tmp_path), tmp_path / "t.tex", tmp_path / "t.csv")
    tex, csv = (tmp_path / "t.tex").read_text(), pd.read_csv(tmp_path / "t.csv")
    assert _cell(csv, "moons", "standard", "skl")["mean"] == pytest.approx(-0.2)  # the raw estimate, not clamped
    assert "-0.20 $\\pm$ 0.07$^{<0}$" in tex  # z-space sKL: negative, marked
    assert "0.30 $\\pm$ 0.07 " in tex and "0.30 $\\pm$ 0.07$^{<0}$" not in tex  # z0-space: positive, unmarked
    assert "1-NN estimator is only asymptotically unbiased" in tex and "sKL $\\approx 0$" in tex
    assert len(long) == len(csv)
    assert "$^{<0}$" not in table[1] and "asymptotically unbiased" not in table[1]  # no negative cell, no note


def test_table1_compares_the_paper_with_the_authors_scaling_only_and_names_both_variants(tmp_path):
    records = [_record("mnist", "vae", "standard", 0, 1.0), _record("mnist", "vae", "standard", 0, 5.0,
                                                                    variant="per_sample")]
    long = dpvae_table1.write(_write(records, tmp_path), tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    nelbo = long[(long["metric"] == "batch_nelbo_paper")].set_index("variant")
    assert nelbo.loc["authors", "mean"] == pytest.approx(0.1) and nelbo.loc["per_sample", "mean"] == pytest.approx(0.5)
    assert nelbo.loc["authors", "paper_comparable"] and not nelbo.loc["per_sample", "paper_comparable"]
    assert nelbo.loc["per_sample", "paper_value"] == 3.56  # the paper's value stays beside it, marked not comparable
    assert "authors' scaling (paper-compatible)" in tex and "per-sample (corrected)" in tex
    assert tex.index("authors' scaling (paper-compatible)") < tex.index("per-sample (corrected)")


def test_table1_rejects_mixed_extractors_and_empty_inputs(tmp_path):
    records = [_record("mnist", "vae", "standard", 0, 1.0), _record("mnist", "vae", "standard", 1, 1.0,
                                                                    extractor="classifier:mnist")]
    with pytest.raises(ValueError, match="disagree on fid_extractor"):
        dpvae_table1.write(_write(records, tmp_path), tmp_path / "t.tex", tmp_path / "t.csv")
    with pytest.raises(ValueError, match="no evaluation records"):
        dpvae_table1.write([], tmp_path / "t.tex", tmp_path / "t.csv")


# -- figures --------------------------------------------------------------------------------------------------------

def _fake_arrays(dataset, regulariser, prior, seed=0, images=False):
    rng = np.random.default_rng(seed)
    n, top, grid = 30, 3, 7
    x_shape = (1, 8, 8) if images else (2,)

    def x(count):
        return rng.integers(0, 255, (count, *x_shape), dtype=np.uint8) if images else rng.normal(size=(count, 2))

    axis = np.linspace(-3, 3, grid)
    leakage = np.array([np.nan, np.nan, -3.0, -1.0, 0.5, 0.2]) + seed
    return {"dataset": np.array(dataset), "regulariser": np.array(regulariser), "prior": np.array(prior),
            "seed": np.array(str(seed)), "prior_z": rng.normal(size=(n, 2)), "prior_z0": rng.normal(size=(n, 2)),
            "prior_log_p0": rng.normal(size=n), "prior_log_q": rng.normal(size=n), "prior_x": x(n), "lp_x": x(6),
            "low_posterior_z": rng.normal(size=(top, 2)), "low_posterior_z0": rng.normal(size=(top, 2)),
            "low_posterior_x": x(top), "high_posterior_z": rng.normal(size=(top, 2)),
            "high_posterior_z0": rng.normal(size=(top, 2)), "high_posterior_x": x(top),
            "posterior_z": rng.normal(size=(n, 2)), "posterior_z0": rng.normal(size=(n, 2)),
            "grid_axis": axis, "grid_log_q": -np.add.outer(axis ** 2, axis ** 2), "grid0_axis": axis,
            "grid0_log_q": -np.add.outer(axis ** 2, axis ** 2) / 2, "data_points": rng.normal(size=(50, 2)),
            "leakage_tau": np.array([-90.0, -70, -50, -30, -10, -1]), "leakage_in_region_mean": leakage,
            "leakage_score": np.nan_to_num(leakage), "interpolation_z": rng.normal(size=(4, 2)),
            "interpolation_z0": np.linspace([-1.0, -1.0], [1.0, 1.0], 4), "interpolation_x": x(4),
            "traversal_x": x(2 * 5).reshape(2, 5, *x_shape), "traversal_reconstruction": x(1),
            "traversal_dims": np.array([1, 0]), "traversal_offsets": np.linspace(-5, 5, 5)}


def _save(tmp_path, name, arrays):
    path = tmp_path / f"{name}.npz"
    np.savez(path, **arrays)
    return path


def _written(path):
    return path.exists() and path.stat().st_size > 0 and path.with_suffix(".pdf").exists()


def test_two_moons_figures_1_and_3_write_png_and_pdf(tmp_path):
    standard = _save(tmp_path, "s", _fake_arrays("moons", "beta_h", "standard"))
    decoupled = _save(tmp_path, "d", _fake_arrays("moons", "beta_h", "decoupled", seed=1))
    no_grid = {k: v for k, v in _fake_arrays("moons", "info", "standard").items() if not k.startswith("grid")}
    info = _save(tmp_path, "i", no_grid)  # L > 2 or no grid: the samples are drawn instead
    fig = dpvae_figures.plot_figure1(standard, decoupled, tmp_path / "fig1.png")
    assert _written(tmp_path / "fig1.png") and len(fig.axes) == 8
    legend = [text.get_text() for text in fig.legends[0].get_texts()]  # what the markers and colours are
    assert legend[:2] == ["prior samples of lowest $q(z)$ (low-posterior)",
                          r"$q(z)$ samples of lowest $\mathcal{N}(g(z); 0, I)$ (high-posterior, low-prior)"]
    assert [h.get_marker() for h in fig.legends[0].legend_handles[:2]] == ["x", "P"]
    fig = dpvae_figures.plot_figure3([info, decoupled, standard], tmp_path / "fig3.png")
    assert _written(tmp_path / "fig3.png")
    assert [ax.get_title() for ax in fig.axes[:3]] == [r"$\beta$-VAE-H", r"$\beta$-dpVAE-H", "InfoVAE"]


def test_figure4_averages_seeds_and_keeps_missing_values(tmp_path):
    paths = [_save(tmp_path, f"r{seed}", _fake_arrays("mnist", "factor", "decoupled", seed)) for seed in (0, 1)]
    paths.append(_save(tmp_path, "c", _fake_arrays("celeba", "factor", "standard")))
    fig = dpvae_figures.plot_figure4(paths, tmp_path / "fig4.png")
    assert _written(tmp_path / "fig4.png") and len(fig.axes) == 2
    assert [text.get_text() for text in fig.legends[0].get_texts()] == [
        "colour: FactorVAE", r"dashed: $\mathcal{N}(0, I)$ prior", "solid: decoupled prior (dp)"]
    assert fig.axes[0].get_legend() is None and fig.axes[0].get_ylabel().startswith(r"$LS(\tau)$, mean over")
    y = fig.axes[0].lines[0].get_ydata()
    assert np.isnan(y[:2]).all() and y[2] == pytest.approx(-2.5)  # mean of -3 and -2


def test_image_figures_5_6_and_8_write_png_and_pdf(tmp_path):
    standard = _save(tmp_path, "s", _fake_arrays("mnist", "factor", "standard", images=True))
    decoupled = _save(tmp_path, "d", _fake_arrays("mnist", "factor", "decoupled", images=True))
    dpvae_figures.plot_figure5([decoupled, standard], tmp_path / "fig5.png")
    dpvae_figures.plot_figure6(standard, decoupled, tmp_path / "fig6.png")
    fig = dpvae_figures.plot_figure8(decoupled, tmp_path / "fig8.png")
    assert all(_written(tmp_path / f"fig{i}.png") for i in (5, 6, 8))
    assert fig.axes[0].images[0].get_array().shape[:2] == (2 * 9 + 1, 6 * 9 + 1)  # 2 rows of 1 + 5 8x8 images


def test_image_figures_refuse_point_data(tmp_path):
    moons = _save(tmp_path, "m", _fake_arrays("moons", "vae", "standard"))
    with pytest.raises(ValueError, match="image"):
        dpvae_figures.plot_figure5([moons], tmp_path / "fig5.png")
