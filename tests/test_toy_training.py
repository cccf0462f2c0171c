import dataclasses
import json
import re

import pytest
import torch

from conftest import tiny_config
from vaepriors.core.priors import MixtureOfGaussiansPrior
from vaepriors.studies.toy2d.config import RunSpec, ToyEvalConfig, ToyTrainConfig
from vaepriors.studies.toy2d.evaluate import ToyEvaluator
from vaepriors.studies.toy2d.trainer import ToyRuns, ToyTrainer, load_runs, save_runs

RUNS = (RunSpec(0, 0.2, 0.3, 0.9), RunSpec(7, 0.5, 0.1, 0.3), RunSpec(3, 1.0, 0.05, 0.25))
TINY_EVAL = ToyEvalConfig(hist_samples=300, bins=20, grid_size=24, gnelbo_batches=2, gnelbo_batch_size=16,
                          mc_samples=4, figure_samples=50, figure_grid=12)


def test_a_run_trained_in_a_batch_equals_the_same_run_trained_alone():
    together = ToyTrainer(tiny_config(runs=RUNS)).train(progress=False).model.state_dict()
    alone = ToyTrainer(tiny_config(runs=RUNS[1:2])).train(progress=False).model.state_dict()
    assert together.keys() == alone.keys()
    for name, value in alone.items():
        batched = together[name][1:2] if value.dim() else together[name]
        torch.testing.assert_close(batched, value, rtol=1e-4, atol=1e-5, msg=name)


def test_phases_convert_to_mog_fit_clip_and_train_the_prior_only_with_ip():
    trainer = ToyTrainer(tiny_config())
    trainer.train(progress=False)
    model = trainer.model
    assert isinstance(model.prior, MixtureOfGaussiansPrior)
    assert bool(model.clip.active)
    assert (model.clip.upper >= model.clip.lower).all()

    frozen = ToyTrainer(tiny_config(intro_prior=False, configuration="sintro_mog_lc"))
    cfg = frozen.config
    for it in range(cfg.iterations):
        if it == cfg.adversarial_start:
            before = {k: v.clone() for k, v in frozen.model.prior.state_dict().items()}
        frozen.train_unit(it)
    after = frozen.model.prior.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # fixed prior in the adversarial phase
    assert not bool(frozen.model.clip.active)


def test_learning_rate_decays_at_milestones_from_iteration_zero():
    trainer = ToyTrainer(tiny_config(milestones=(5, 10)))
    assert [trainer._learning_rate(i) for i in (0, 4, 5, 9, 10)] == pytest.approx([2e-4, 2e-4, 2e-5, 2e-5, 2e-6])


@pytest.mark.parametrize("overrides, message", [
    (dict(kl="closed"), "closed form"),
    (dict(intro_prior=True, convert_to_mog=False), "intro_prior"),
    (dict(dataset="moons"), "dataset"),
    (dict(runs=()), "no runs"),
])
def test_invalid_configurations_name_the_problem(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)


@pytest.mark.parametrize("betas", [(-1.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, float("nan"))])
def test_non_positive_betas_are_rejected_naming_the_run(betas):
    with pytest.raises(ValueError, match=r"invalid 2D run \(seed 3\): betas must be positive and finite"):
        RunSpec(3, *betas)


def test_toy_train_cli_rejects_a_negative_beta_before_training(capsys):
    from vaepriors.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["toy-train", "--dataset", "8Gaussian", "--configuration", "c", "--model", "vae",
                                   "--prior", "standard_gaussian", "--betas", "-1", "1", "1", "--seeds", "0",
                                   "--out", "runs.pt"])
    assert "argument --betas: -1 is not a positive finite number" in capsys.readouterr().err


def test_divergence_is_recorded_per_run_and_other_runs_go_on():
    runs = (RunSpec(0, 0.2, 0.3, 0.9), RunSpec(1, 0.2, 0.3, 0.9))
    trainer = ToyTrainer(tiny_config(runs=runs, lr=1e-3))
    with torch.no_grad():
        trainer.model.decoder.layers[-1].bias[1].fill_(float("nan"))
    result = trainer.train(progress=False)
    assert result.diverged_at[0] is None and result.diverged_at[1] == 0
    assert result.reasons[0] is None and result.reasons[1].startswith("non-finite ")
    assert "at iteration 0" in result.reasons[1]
    rows, _ = ToyEvaluator(result, TINY_EVAL).evaluate()
    diverged = rows[1]
    assert all(v == v for k, v in rows[0].items() if k != "diverged_at")  # run 0: finite metrics
    assert diverged["kl_paper"] != diverged["kl_paper"]  # NaN


def test_save_load_roundtrip_and_evaluation_is_per_run(tmp_path):
    result = ToyTrainer(tiny_config(runs=RUNS)).train(progress=False)
    save_runs(result, tmp_path / "runs.pt")
    written = (tmp_path / "runs.config.json").read_text()  # the resolved configuration beside the weights, sorted
    assert json.loads(written) == json.loads(json.dumps(result.config.to_dict()))
    assert written == json.dumps(json.loads(written), indent=2, sort_keys=True) + "\n"
    loaded = load_runs(tmp_path / "runs.pt")
    for name, value in result.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], value), name
    rows, samples = ToyEvaluator(loaded, TINY_EVAL).evaluate()
    assert [row["seed"] for row in rows] == [0, 7, 3]
    assert {row["grid_size"] for row in rows} == {TINY_EVAL.grid_size}  # the grid that gnelbo_paper depends on
    assert samples["fake"].shape == (3, 50, 2) and samples["density"].shape == (3, 12, 12)
    cell = (2 * 2.0 / (24 - 1)) ** 2 * (24 / 12) ** 2  # grid spacing, then 2x2 average pooling
    assert samples["density"].sum(axis=(1, 2)) * cell == pytest.approx([1, 1, 1], rel=0.05)
    alone_config = dataclasses.replace(loaded.config, runs=RUNS[2:])
    alone_model = ToyTrainer(alone_config).model
    alone_model.convert_vamp_to_mog(alone_config.vamp_to_mog_weights)
    alone_model.load_state_dict({k: v[2:] if v.dim() else v for k, v in loaded.model.state_dict().items()})
    alone = ToyRuns(alone_config, alone_model, [None], [None], [])
    rows_alone, _ = ToyEvaluator(alone, TINY_EVAL).evaluate()
    for key in ("kl_paper", "jsd_paper", "gnelbo_paper", "log_likelihood_grid"):
        assert rows_alone[0][key] == pytest.approx(rows[2][key], rel=1e-4), key


def test_initial_weights_depend_on_the_seed_only_not_on_the_device_streams():
    """Weights come from CPU generators seeded per run (so a CUDA run starts from the same weights): the VampPrior's
    data draw on the run's stream must not shift them."""
    sg = ToyTrainer(tiny_config(prior="standard_gaussian", components=1, learnable_contributions=False,
                                intro_prior=False, convert_to_mog=False, configuration="sintro_sg"))
    vamp = ToyTrainer(tiny_config())
    for name, value in sg.model.encoder.state_dict().items():
        assert torch.equal(vamp.model.encoder.state_dict()[name], value), name


@pytest.mark.parametrize("overrides", [dict(prior="decoupled", components=1, learnable_contributions=False,
                                            convert_to_mog=False, configuration="sintro_flow_ip", flow_hidden=8,
                                            flow_blocks=2),
                                       dict(prior="standard_gaussian", components=1, learnable_contributions=False,
                                            intro_prior=False, convert_to_mog=False, kl="closed",
                                            configuration="sintro_sg")])
def test_a_nan_run_of_a_flow_or_closed_form_stack_is_recorded_not_raised(overrides):
    """torch.distributions would raise on a NaN argument and end every run of the job (issue 11, fault 1)."""
    runs = (RunSpec(0, 0.2, 0.3, 0.9), RunSpec(1, 0.2, 0.3, 0.9))
    trainer = ToyTrainer(tiny_config(runs=runs, **overrides))
    with torch.no_grad():
        trainer.model.encoder.layers[-1].bias[1].fill_(float("nan"))
    result = trainer.train(progress=False)
    assert result.diverged_at == [None, 0]
    assert all(torch.isfinite(v[0]).all() for v in result.model.state_dict().values() if v.dim() and len(v) == 2)


def test_a_diverging_grid_point_of_the_decoupled_prior_is_recorded_by_the_clis(tmp_path):
    """`--grid-beta-rec 0.2 3e38` with the decoupled prior killed the whole vectorised job (issue 11, fault 1): through
    `vaepriors toy-train --metrics` (and `toy-evaluate`), the diverged point is a metrics row with its iteration and reason and
    the healthy point has finite metrics."""
    import numpy as np
    import pandas as pd

    from vaepriors.cli import main

    runs = tmp_path / "grid" / "runs.pt"
    evaluation = ["hist-samples", "100", "bins", "10", "grid-size", "8", "gnelbo-batches", "1", "gnelbo-batch-size",
                  "8", "mc-samples", "2", "figure-samples", "16", "figure-grid", "8"]
    eval_flags = [f"--eval-{token}" if i % 2 == 0 else token for i, token in enumerate(evaluation)]
    main(["toy-train", "--dataset", "8Gaussian", "--configuration", "sintro_flow_ip", "--model", "sintro",
          "--prior", "decoupled", "--intro-prior", "--iterations", "12", "--warmup", "6", "--milestones", "10",
          "--batch-size", "16", "--hidden", "8", "--hidden-layers", "1", "--mc-samples", "2", "--flow-blocks", "2",
          "--flow-hidden", "8", "--grid-beta-rec", "0.2", "3e38", "--grid-beta-kl", "0.3", "--seeds", "0",
          "--log-every", "6", "--out", str(runs), "--metrics", str(tmp_path / "metrics.csv"), "--samples",
          str(tmp_path / "samples.npz"), *eval_flags, "--device", "cpu"])
    # the training job's in-process evaluation (what the workflow runs) equals a standalone toy-evaluate
    main(["toy-evaluate", "--runs", str(runs), "--metrics", str(tmp_path / "alone.csv"), "--samples",
          str(tmp_path / "alone.npz"), *[f"--{token}" if i % 2 == 0 else token for i, token in enumerate(evaluation)],
          "--device", "cpu"])
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    pd.testing.assert_frame_equal(metrics, pd.read_csv(tmp_path / "alone.csv"))
    healthy, diverged = metrics.iloc[0], metrics.iloc[1]
    assert diverged["beta_rec"] == 3e38 and diverged["diverged_at"] == 0
    assert diverged["diverged_reason"] == "non-finite loss at iteration 0" and np.isnan(diverged["kl_paper"])
    assert pd.isna(healthy["diverged_at"]) and pd.isna(healthy["diverged_reason"])
    assert np.isfinite(healthy[["kl_paper", "jsd_paper", "gnelbo_paper"]].to_numpy(dtype=float)).all()


def test_a_fully_diverged_grid_gives_diverged_seed_runs_and_every_table_and_figure3_still_render(tmp_path):
    """No selectable grid point made `toy_train_seeds` raise, so Tables 1, 4 and Figure 3 were not rendered (issue
    11, fault 2): the seed job now writes runs recorded as diverged with the reason, and the tables print
    'diverged (2/2)' in their cells."""
    import pandas as pd

    from vaepriors.cli import main

    grid = tmp_path / "grid.csv"
    pd.DataFrame({"run": [0, 1], "seed": [0, 0], "beta_rec": [3e38, 1e38], "beta_kl": [0.3, 0.3],
                  "beta_neg": [0.9, 0.9], "diverged_at": [0, 4], "kl_paper": [float("nan")] * 2}).to_csv(grid)
    runs, metrics, samples = (tmp_path / name for name in ("runs.pt", "metrics.csv", "samples.npz"))
    main(["toy-train", "--dataset", "8Gaussian", "--configuration", "sintro_sg", "--model", "sintro", "--prior",
          "standard_gaussian", "--iterations", "12", "--warmup", "6", "--milestones", "10", "--batch-size", "16",
          "--hidden", "8", "--hidden-layers", "1", "--mc-samples", "2", "--optimum-from", str(grid),
          "--seeds", "0", "1", "--out", str(runs), "--device", "cpu"])
    trained = load_runs(runs)
    assert trained.diverged_at == [0, 0] and trained.config.runs[0].beta_rec == 3e38
    assert trained.reasons[0].startswith(f"not trained: no grid point of {grid} is selectable (2 of 2 diverged")
    main(["toy-evaluate", "--runs", str(runs), "--metrics", str(metrics), "--samples", str(samples),
          "--hist-samples", "100", "--bins", "10", "--grid-size", "8", "--gnelbo-batches", "1",
          "--gnelbo-batch-size", "8", "--mc-samples", "2", "--figure-samples", "16", "--figure-grid", "8",
          "--device", "cpu"])
    assert pd.read_csv(metrics)["diverged_reason"].tolist() == trained.reasons
    for table in ("table1", "table4"):
        main([table, "--metrics", str(metrics), "--out-tex", str(tmp_path / f"{table}.tex"),
              "--out-csv", str(tmp_path / f"{table}.csv")])
        tex = (tmp_path / f"{table}.tex").read_text()
        assert "diverged (2/2)" in tex and "diverged ($k$/$n$)" in tex, table
    main(["figure3", "--samples", str(samples), "--out", str(tmp_path / "figure3.png")])
    assert (tmp_path / "figure3.png").stat().st_size > 0 and (tmp_path / "figure3.pdf").exists()


@pytest.mark.parametrize("changes, message", [
    (dict(warmup=0), "S-IntroVAE: warmup (0) must lie in (0, iterations (30000)]"),
    (dict(warmup=40_000), "S-IntroVAE: warmup (40000) must lie in (0, iterations (30000)]"),
    (dict(prior="vamp", components=4, convert_to_mog=True, mog_warmup=3_000),
     "convert_to_mog: mog_warmup (3000) must lie in [0, warmup (2000)]"),
])
def test_the_schedule_rules_the_workflow_also_checks_reject_a_run(changes, message):
    """studies/toy2d/schedule.py is the one statement of the schedule's rules: the config and the workflow use it."""
    with pytest.raises(ValueError, match=re.escape(message)):
        ToyTrainConfig(**{"dataset": "8Gaussian", "configuration": "x", "model": "sintro", **changes})
