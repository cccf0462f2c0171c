"""Image-study figures and t-SNE on tiny fake run directories and evaluation files laid out as docs/images.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaepriors.core.evaluation.tsne import embed_latents, load_tsne, write_tsne
from vaepriors.studies.images.figures import (
    plot_figure2a, plot_figure2b, plot_figure4, plot_figure7, plot_figure8, plot_figure9, plot_sample_grid,
)
from vaepriors.studies.images.inputs import (
    RunKey, RunStatus, configuration_label, ordered_configurations, ordered_datasets, run_key, until_divergence,
)
from vaepriors.studies.images.latent_figures import PRIOR_DOT_AREA, prior_dot_areas
from vaepriors.studies.images.panels import framed, inactive_samples, originals_over_reconstructions

HISTORY_COLUMNS = ["epoch", "phase", "iterations", "loss_encoder", "loss_decoder", "rec", "kl", "neg_entropy",
                   "entropy", "max_prior_logvar", "max_prior_logvar_unclipped"]


def _run_dir(root: Path, dataset: str, configuration: str, r: int, seed: int, epochs: int,
             diverged_at: int | None = None, entropy: float = 0.5) -> Path:
    """history.csv (2 warm-up epochs, log-variance rising, inf at the divergence epoch) and status.json."""
    run = root / "images" / dataset / "runs" / configuration / f"r{r}" / f"seed{seed}"
    run.mkdir(parents=True)
    epoch = np.arange(epochs)
    logvar = 0.1 * epoch
    if diverged_at is not None:
        logvar[diverged_at] = np.inf
    frame = pd.DataFrame({column: 0.0 for column in HISTORY_COLUMNS}, index=epoch)
    frame = frame.assign(epoch=epoch, phase=np.where(epoch < 2, "warmup", "adversarial"), entropy=entropy + 0 * epoch,
                         max_prior_logvar=logvar, max_prior_logvar_unclipped=logvar)
    frame.to_csv(run / "history.csv", index=False)
    status = {"completed_epochs": epochs, "diverged": diverged_at is not None, "diverged_at_epoch": diverged_at,
              "reason": "non-finite loss" if diverged_at is not None else None}
    (run / "status.json").write_text(json.dumps(status))
    return run


def _fid_history(root: Path, dataset: str, configuration: str, r: int, seed: int, epochs=(2, 4, 8),
                 fid: float = 5.0, extractor: str = "classifier:mnist") -> Path:
    """_fid_history.csv and the evaluation JSON beside it (only its fid_extractor)."""
    path = root / "images" / dataset / "eval" / configuration / f"r{r}" / f"seed{seed}_fid_history.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / f"seed{seed}.json").write_text(json.dumps({"fid_extractor": extractor}))
    pd.DataFrame({"epoch": epochs, "fid_gen_standard": [10 * fid] * len(epochs),
                  "fid_gen_paper": [fid] * len(epochs)}).to_csv(path, index=False)
    return path


def _latents(root: Path, dataset: str, configuration: str, responsibility, channels: int = 1, n: int = 40,
             z_dim: int = 4) -> Path:
    """A _latents.npz with K = len(responsibility) modes, 4 classes, and 6 samples drawn from modes 0, 1, 0, 1..."""
    rng = np.random.default_rng(0)
    k = len(responsibility)
    path = root / "images" / dataset / "eval" / configuration / "r0" / "seed0_latents.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    images = rng.uniform(size=(6, channels, 8, 8)).astype(np.float32)
    np.savez(path, mu=rng.normal(size=(n, z_dim)), z=rng.normal(size=(n, z_dim)), labels=np.arange(n) % 4,
             prior_mu=rng.normal(size=(k, z_dim)), prior_weight=np.full(k, 1 / k), mean_responsibility=responsibility,
             samples=images, sample_component=np.arange(6) % min(k, 2), reconstructions=images * 0.5,
             originals=images)
    return path


def _written(out: Path) -> bool:
    pdf = out.with_suffix(".pdf")
    return out.stat().st_size > 0 and pdf.exists() and pdf.stat().st_size > 0


def _labelled_lines(ax) -> dict:
    """Curves by legend label (markers and reference lines carry matplotlib's '_child' labels)."""
    return {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}


def test_run_key_and_labels_follow_the_documented_layout(tmp_path):
    assert run_key("results/images/cifar10/runs/mog10_lc_ip/r100/seed3/history.csv") == \
        RunKey("cifar10", "mog10_lc_ip", 100.0, 3)
    assert run_key("x/images/mnist/eval/sg/r0.5/seed1_latents.npz") == RunKey("mnist", "sg", 0.5, 1)
    assert run_key("results/images/fmnist/tsne/mog100.npz") == RunKey("fmnist", "mog100")
    with pytest.raises(ValueError):
        run_key(tmp_path / "history.csv")
    assert [configuration_label(c) for c in ("sg", "mog10", "mog10_lc_ip", "mog100_ip")] == \
        ["SG", "MoG(10) no LC/IP", "MoG(10) LC+IP", "MoG(100) IP"]
    assert ordered_configurations(["mog100", "mog10_lc", "sg", "mog10_ip", "mog10_lc"]) == \
        ["sg", "mog10_ip", "mog10_lc", "mog100"]
    assert ordered_datasets(["svhn", "cifar10", "mnist"]) == ["mnist", "cifar10", "svhn"]


def test_until_divergence_keeps_epochs_up_to_the_crash():
    frame = pd.DataFrame({"epoch": np.arange(10), "value": np.arange(10.0)})
    crashed = until_divergence(frame, RunStatus(7, True, 6, "nan"))
    assert crashed["epoch"].tolist() == list(range(7))
    assert len(until_divergence(frame, RunStatus(10, False, None, None))) == 10


def test_figure2a_diverged_curve_stops_at_its_divergence_epoch(tmp_path):
    clipped = _run_dir(tmp_path, "cifar10", "mog1_ip", 0, 0, epochs=10)
    unclipped = _run_dir(tmp_path, "cifar10", "mog1_ip_noclip", 0, 0, epochs=9, diverged_at=6)
    runs = [(label, run / "history.csv", _fid_history(tmp_path, "cifar10", configuration, 0, 0), run / "status.json")
            for label, run, configuration in (("clipped", clipped, "mog1_ip"),
                                              ("not clipped", unclipped, "mog1_ip_noclip"))]
    out = tmp_path / "figures" / "figure2a.png"
    fig = plot_figure2a(runs, out)
    assert _written(out)
    logvar_ax, fid_ax = fig.axes
    curves = _labelled_lines(logvar_ax)
    assert curves["clipped"].get_xdata().tolist() == list(range(10))
    diverged = curves["not clipped (diverged at epoch 6)"]
    assert diverged.get_xdata().tolist() == list(range(6))  # epoch 6 is non-finite, epochs 7-8 come after the crash
    crosses = [line for line in logvar_ax.lines if line.get_marker() == "X"]
    assert len(crosses) == 1 and crosses[0].get_xdata().tolist() == [6]
    assert crosses[0].get_ydata().tolist() == pytest.approx([0.5])  # the last finite value
    fid_curves = _labelled_lines(fid_ax)
    assert fid_curves["not clipped (diverged at epoch 6)"].get_xdata().tolist() == [2, 4]
    assert fid_curves["clipped"].get_xdata().tolist() == [2, 4, 8]
    # equal FIDs stay visible: different markers and dashes, hollow; each panel's legend says which is which
    first, second = fid_curves["clipped"], fid_curves["not clipped (diverged at epoch 6)"]
    assert first.get_marker() != second.get_marker() and first.get_linestyle() != second.get_linestyle()
    assert first.get_markerfacecolor() == "none"
    assert fid_ax.get_ylabel() == "FID (GEN), classifier features\n(classifier:mnist)"
    assert [t.get_text() for t in fid_ax.get_legend().get_texts()] == ["clipped", "not clipped (diverged at epoch 6)"]
    assert not fig.get_suptitle()  # no run held by the clip here


def test_figure2a_shows_a_single_component_clip_as_held_with_its_raw_parameter(tmp_path):
    """With K = 1 the clip's fitted range is one point: the clipped log-variance is flat by construction (Eq. 10),
    which the figure draws as it is and explains, with the raw parameter beside it."""
    clipped = _run_dir(tmp_path, "cifar10", "mog1_ip", 0, 0, epochs=10)
    history = pd.read_csv(clipped / "history.csv")
    history["max_prior_logvar"] = np.minimum(history["max_prior_logvar_unclipped"], 0.2)  # held in the adversarial
    # phase (epochs 2-9), fitted at its start
    history.to_csv(clipped / "history.csv", index=False)
    runs = [("mog1_ip (clipped)", clipped / "history.csv", _fid_history(tmp_path, "cifar10", "mog1_ip", 0, 0,
                                                                         extractor="inception-v3-compat"),
             clipped / "status.json")]
    fig = plot_figure2a(runs, tmp_path / "figure2a.png")
    logvar_ax, fid_ax = fig.axes
    curves = _labelled_lines(logvar_ax)
    assert curves["mog1_ip (clipped)"].get_ydata()[2:].tolist() == pytest.approx([0.2] * 8)
    raw = curves["mog1_ip (clipped): raw parameter"]
    assert raw.get_linestyle() == "--" and raw.get_ydata().tolist() == pytest.approx((0.1 * np.arange(10)).tolist())
    assert fig.get_suptitle().startswith("mog1_ip (clipped): held at the value fitted when the clip switched on")
    assert "single point" in fig.get_suptitle() and "hard clamp" in fig.get_suptitle()
    assert fid_ax.get_ylabel() == "FID (GEN), Inception\n(inception-v3-compat)"


def test_inactive_samples_are_those_of_modes_below_one_percent():
    responsibility = np.array([0.5, 0.005, 0.385, 0.0, 0.01, 0.1])
    components = np.array([0, 1, 1, 3, 4, 2, 5, 3])
    assert inactive_samples(responsibility, components).tolist() == [False, True, True, True, False, False, False,
                                                                     True]
    assert not inactive_samples(np.array([1.0]), np.zeros(3, dtype=int)).any()


def test_frames_are_red_for_flagged_images_and_white_otherwise():
    images = np.full((2, 1, 4, 4), 0.25, dtype=np.float32)
    out = framed(images, np.array([True, False]), width=2)
    assert out.shape == (2, 3, 8, 8)
    assert out[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0] and out[0, :, 7, 3].tolist() == [1.0, 0.0, 0.0]
    assert out[1, :, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert np.all(out[:, :, 2:6, 2:6] == 0.25)  # gray images become three equal channels, untouched


def test_originals_and_reconstructions_alternate_by_row():
    originals = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) / 10
    reconstructions = originals + 0.5
    rows = originals_over_reconstructions(originals, reconstructions, nrow=2)[:, 0, 0, 0]
    assert rows.tolist() == pytest.approx([0.0, 0.1, 0.5, 0.6, 0.2, 0.3, 0.7, 0.8])  # the odd 5th image is left out


def test_figure2b_and_sample_grid_write_png_and_pdf(tmp_path):
    collapsed = _latents(tmp_path, "cifar10", "mog10", np.array([0.995, 0.005]), channels=3)
    regularised = _latents(tmp_path, "cifar10", "mog10_r", np.array([0.5, 0.5]), channels=3)
    runs = [("$r_{entropy}$ = 0", _run_dir(tmp_path, "cifar10", "mog10", 0, 0, 5, entropy=0.1) / "history.csv",
             collapsed),
            ("$r_{entropy}$ = 10", _run_dir(tmp_path, "cifar10", "mog10", 10, 0, 5, entropy=0.9) / "history.csv",
             regularised)]
    fig = plot_figure2b(runs, tmp_path / "figure2b.png", nrow=3)
    assert _written(tmp_path / "figure2b.png")
    assert "1/2 modes inactive (3 framed red)" in fig.axes[1].get_title()
    zero, ten = _labelled_lines(fig.axes[0]).values()  # the r_entropy curves differ by marker and dashes too
    assert zero.get_marker() != ten.get_marker() and zero.get_linestyle() != ten.get_linestyle()
    assert "inactive" not in fig.axes[2].get_title()
    plot_sample_grid(_latents(tmp_path, "mnist", "sg", np.array([1.0])), tmp_path / "samples.png", nrow=4)
    assert _written(tmp_path / "samples.png")


def test_figure7_places_runs_by_prior_and_averages_seeds(tmp_path):
    runs = []
    for configuration, r, seed, entropy in (("mog10", 0, 0, 0.2), ("mog10_lc_ip", 10, 0, 0.6),
                                            ("mog10_lc_ip", 10, 1, 0.8), ("sg", 0, 0, 0.0), ("mog10", 1, 0, 0.3)):
        history = _run_dir(tmp_path, "mnist", configuration, r, seed, 6, entropy=entropy) / "history.csv"
        runs.append((history, _fid_history(tmp_path, "mnist", configuration, r, seed)))
    fig = plot_figure7(runs, tmp_path / "figure7.png")
    assert _written(tmp_path / "figure7.png")
    # rows: entropy, FID; columns: MoG(10) fixed, IP only (MoG(100) was not run: no empty "not run" columns)
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["MoG(10), fixed prior (no IP)", "MoG(10), IP"]
    (fixed,), (ip,) = axes[0, 0].lines, axes[0, 1].lines  # the SG and r = 1 runs are not in the figure
    assert fixed.get_linestyle() == ":" and ip.get_linestyle() == "-"
    assert fixed.get_marker() != ip.get_marker()  # r = 0 and r = 10 differ by marker too, not colour alone
    assert fixed.get_ydata() == pytest.approx([0.2] * 6) and ip.get_ydata() == pytest.approx([0.7] * 6)
    assert axes[1, 1].lines[0].get_xdata().tolist() == [2, 4, 8]
    assert axes[1, 0].get_ylabel() == "MNIST\nFID (GEN), classifier features\n(classifier:mnist)"
    legend = fig.legends[0]  # the r values shown (not r = 100, which did not run), each with its marker
    assert [t.get_text() for t in legend.get_texts()] == ["$r_{entropy}$ = 0", "$r_{entropy}$ = 10", "LC", "no LC"]
    assert [h.get_marker() for h in legend.legend_handles[:2]] == ["o", "s"]


def test_embed_latents_is_deterministic_for_a_seed(tmp_path):
    latents = np.random.default_rng(1).normal(size=(30, 5))
    first = embed_latents(latents, seed=3)
    assert first.shape == (30, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, embed_latents(latents, seed=3))
    source = _latents(tmp_path, "mnist", "sg", np.array([1.0]), n=30)
    written = write_tsne(source, tmp_path / "images" / "mnist" / "tsne" / "sg.npz", max_points=20, seed=3)
    loaded = load_tsne(tmp_path / "images" / "mnist" / "tsne" / "sg.npz")
    with np.load(tmp_path / "images" / "mnist" / "tsne" / "sg.npz") as npz:
        indices = npz["indices"]
    assert loaded.embedding.shape == (20, 2) and np.all(np.diff(indices) > 0)
    np.testing.assert_array_equal(loaded.labels, indices % 4)
    np.testing.assert_array_equal(loaded.embedding, written.embedding)


def test_latent_figures_write_one_column_per_configuration(tmp_path):
    latents = [_latents(tmp_path, "mnist", c, np.full(k, 1 / k)) for c, k in (("mog10_lc", 10), ("sg", 1))]
    tsne = [tmp_path / "images" / "mnist" / "tsne" / f"{c}.npz" for c in ("mog10_lc", "sg")]
    for source, out in zip(latents, tsne):
        write_tsne(source, out, max_points=40, seed=0)
    fig8 = plot_figure8(latents, tmp_path / "figure8.png")
    assert [ax.get_title() for ax in fig8.axes] == ["SG", "MoG(10) LC"]
    fig4 = plot_figure4(latents, tsne[:1], tmp_path / "figure4.png")
    assert [ax.get_ylabel() for ax in fig4.axes[::2]] == ["MNIST\nlatent dims 1-2", "MNIST\nt-SNE"]
    assert fig4.axes[2].texts[0].get_text() == "not run"  # no SG t-SNE passed
    legend = fig4.legends[0]  # the colours are classes, the black dots prior means (Fig. 9 draws none)
    assert legend.get_title().get_text() == "colour: class"
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2", "3", "prior mean (area $\\propto$ weight)"]
    fig9 = plot_figure9(tsne, tmp_path / "figure9.png")
    assert fig9.axes[0].get_ylabel() == "MNIST"
    assert [t.get_text() for t in fig9.legends[0].get_texts()] == ["0", "1", "2", "3"]
    assert all(_written(tmp_path / f"figure{n}.png") for n in (4, 8, 9))
    with pytest.raises(ValueError, match="two inputs"):
        plot_figure8(latents + latents[:1], tmp_path / "duplicate.png")


def test_prior_dots_scale_with_weight():
    assert prior_dot_areas(np.full(10, 0.1)) == pytest.approx([PRIOR_DOT_AREA] * 10)
    areas = prior_dot_areas(np.array([0.6, 0.3, 0.1, 0.0]))
    assert areas[0] == pytest.approx(2 * areas[1]) and areas[3] == pytest.approx(0.5)
