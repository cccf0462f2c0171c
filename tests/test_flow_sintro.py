"""The decoupled (RealNVP flow) prior of dpVAE as the S-IntroVAE prior: run-stacked flows, FlowDistribution, the 2D
and image trainers with and without IP, checkpoints, and the Flow / Flow IP columns of the tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from torch import nn
from torch.distributions import Normal

from conftest import tiny_config
from test_image_tables import _seeds as _image_seeds
from test_image_tables import _write as _write_image_records
from test_image_training import tiny_image_config
from test_reporting import _seed_rows
from test_reporting import _write as _write_metrics
from vaepriors.core.losses.kl import ClosedFormKL, MonteCarloKL, kl_monte_carlo
from vaepriors.core.nets.stacked import StackedLinear
from vaepriors.core.priors import DecoupledPrior, DecoupledPriorConfig, FlowDistribution
from vaepriors.core.randomness import RunRandomness
from vaepriors.studies.images.checkpoint import load_snapshot
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.model import build_image_stack
from vaepriors.studies.images.stages import run_adversarial, run_warmup
from vaepriors.studies.images.tables import PriorColumn, table2, table5
from vaepriors.studies.images.trainer import ImageTrainer
from vaepriors.studies.toy2d.config import RunSpec, ToyTrainConfig
from vaepriors.studies.toy2d.tables import table1
from vaepriors.studies.toy2d.trainer import ToyTrainer, load_runs, save_runs

SEEDS = (11, 12, 13)


def generators(seeds=SEEDS) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


def stacked_flow(z_dim: int, seeds=SEEDS, hidden: int = 16, blocks: int = 6, sharpen: float = 4.0,
                 dtype=torch.float64) -> DecoupledPrior:
    """R run-stacked flows (default init from per-run generators), last layers x `sharpen` so the flow is far from
    the identity (the tanh outputs reach well into their range)."""
    flow = DecoupledPrior(DecoupledPriorConfig(z_dim, blocks=blocks, hidden=hidden), generators=generators(seeds))
    with torch.no_grad():
        for block in flow.blocks:
            block.scale[-2].weight.mul_(sharpen)
            block.shift[-2].weight.mul_(sharpen)
    return flow.to(dtype)


def flow_parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


# -- 1. run-stacked flows ------------------------------------------------------------------------------------------

def test_a_stacked_run_equals_the_same_flow_built_alone():
    together, alone = stacked_flow(3), stacked_flow(3, seeds=SEEDS[1:2])
    assert together.blocks[0].scale[0].weight.shape[0] == 3 and alone.blocks[0].scale[0].weight.shape[0] == 1
    for name, value in alone.named_parameters():
        assert torch.equal(dict(together.named_parameters())[name][1:2], value), name
    assert not torch.equal(together.blocks[0].scale[0].weight[0], together.blocks[0].scale[0].weight[1])
    z = 1.5 * torch.randn(3, 17, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        log_p = together.log_prob(z)
        assert log_p.shape == (3, 17)
        torch.testing.assert_close(log_p[1:2], alone.log_prob(z[1:2]), rtol=0, atol=1e-12)
        # the runs are different flows: run 0 evaluated on run 1's points gives other densities
        assert (log_p[1] - together.log_prob(z[[1, 1, 1]])[0]).abs().max() > 1e-3


@pytest.mark.parametrize("shape", [(3, 20, 4), (3, 6, 5, 4)])
def test_stacked_flow_is_invertible_also_with_a_sample_axis(shape):
    flow = stacked_flow(shape[-1])
    z0 = 2.0 * torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z = flow.from_generation_space(z0)
        back, log_det = flow.to_generation_space(z)
        assert z.shape == shape and back.shape == shape and log_det.shape == shape[:-1]
        torch.testing.assert_close(back, z0, rtol=0, atol=1e-11)
        torch.testing.assert_close(flow.from_generation_space(flow.to_generation_space(z0)[0]), z0, rtol=0, atol=1e-11)
        assert (z - z0).abs().max() > 0.1  # far from the identity
        if len(shape) == 4:  # the sample axis is folded into the batch axis, per run
            flat = z0.reshape(shape[0], -1, shape[-1])
            torch.testing.assert_close(flow.from_generation_space(flat).reshape(shape), z, rtol=0, atol=1e-12)
            torch.testing.assert_close(flow.log_prob(z0), flow.log_prob(flat).reshape(shape[:-1]),
                                       rtol=0, atol=1e-12)


@pytest.mark.parametrize("z_dim", [2, 4])
def test_stacked_log_det_matches_autograd_jacobian_per_run(z_dim):
    flow = stacked_flow(z_dim)
    points = torch.randn(3, 1, z_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    log_det = flow.to_generation_space(points)[1]
    jacobian = torch.autograd.functional.jacobian(lambda z: flow.to_generation_space(z)[0], points)  # (3,1,L,3,1,L)
    for run in range(3):
        block = jacobian[run, 0, :, run, 0, :]
        torch.testing.assert_close(log_det[run, 0], torch.linalg.slogdet(block).logabsdet, rtol=0, atol=1e-10)
        for other in set(range(3)) - {run}:  # a run's flow never sees another run's points
            assert torch.equal(jacobian[run, 0, :, other, 0, :], torch.zeros(z_dim, z_dim, dtype=torch.float64))
    assert log_det.abs().max() > 0.1


# -- 2. FlowDistribution ---------------------------------------------------------------------------------------------

def test_log_joint_is_log_prob_and_the_detached_view_passes_gradients_to_z_only():
    flow = stacked_flow(2, seeds=SEEDS[:2], dtype=torch.float32)
    distribution = flow.distribution()
    assert isinstance(distribution, FlowDistribution) and not distribution.detached
    assert (distribution.n_components, distribution.dim) == (1, 2)
    z_values = torch.randn(2, 9, 2, generator=torch.Generator().manual_seed(3))

    z = z_values.clone().requires_grad_()
    detached = distribution.detach()
    assert detached.detached and detached.flow is flow
    joint = detached.log_joint(z)
    assert joint.shape == (2, 9, 1)
    torch.testing.assert_close(joint[..., 0], flow.log_prob(z_values).detach())
    joint.sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert all(p.grad is None or not p.grad.any() for p in flow.parameters()), \
        "the detached FlowDistribution leaked gradients into the flow parameters"

    z = z_values.clone().requires_grad_()
    joint = distribution.log_joint(z)
    assert joint.shape == (2, 9, 1)
    torch.testing.assert_close(joint[..., 0], flow.log_prob(z_values).detach())
    torch.testing.assert_close(distribution.log_density(z_values), flow.log_prob(z_values))
    joint.sum().backward()
    grads = [p.grad for p in flow.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert z.grad.abs().sum() > 0


def test_samples_are_flow_images_of_the_run_noise_reparameterised_unless_detached():
    flow = stacked_flow(2, seeds=SEEDS[:2], dtype=torch.float32)
    distribution = flow.distribution()
    samples, components = distribution.sample_with_components(6, RunRandomness([4, 5]))
    assert samples.shape == (2, 6, 2) and components.shape == (2, 6)
    assert components.dtype == torch.long and not components.any()
    with torch.no_grad():
        expected = flow.from_generation_space(RunRandomness([4, 5]).normal(6, 2))
    torch.testing.assert_close(samples.detach(), expected, rtol=0, atol=0)
    assert samples.requires_grad
    samples.square().sum().backward()
    grads = [p.grad for p in flow.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0

    fixed = distribution.detach().sample(6, RunRandomness([4, 5]))
    assert fixed.shape == (2, 6, 2) and not fixed.requires_grad and fixed.grad_fn is None
    assert torch.equal(fixed, samples.detach())


def test_monte_carlo_kl_with_a_flow_is_the_mean_log_ratio():
    flow = stacked_flow(3, seeds=SEEDS[:2])
    g = torch.Generator().manual_seed(6)
    mu, logvar = torch.randn(2, 5, 3, dtype=torch.float64, generator=g), torch.randn(2, 5, 3, dtype=torch.float64,
                                                                                      generator=g)
    eps = torch.randn(2, 5, 7, 3, dtype=torch.float64, generator=g)
    result = kl_monte_carlo(mu, logvar, flow.distribution(), eps, responsibilities=True)
    std = torch.exp(0.5 * logvar).unsqueeze(2)
    z = mu.unsqueeze(2) + std * eps
    log_q = Normal(mu.unsqueeze(2), std).log_prob(z).sum(-1)
    by_hand = (log_q - flow.log_prob(z)).mean(-1)
    assert result.per_sample.shape == (2, 5)
    torch.testing.assert_close(result.per_sample, by_hand, rtol=0, atol=1e-10)
    torch.testing.assert_close(result.mean_responsibility, torch.ones(2, 1, dtype=torch.float64))
    # the estimator draws its eps from the run streams as (B, S, L) per run
    estimator = MonteCarloKL(7)(mu, logvar, flow.distribution(), RunRandomness([0, 1]))
    drawn = RunRandomness([0, 1]).normal(5, 7, 3).double()
    torch.testing.assert_close(estimator.per_sample,
                               kl_monte_carlo(mu, logvar, flow.distribution(), drawn).per_sample, rtol=1e-6, atol=1e-6)


def test_closed_form_kl_refuses_a_flow():
    flow = stacked_flow(2, seeds=SEEDS[:1], dtype=torch.float32)
    mu = logvar = torch.zeros(1, 4, 2)
    with pytest.raises(ValueError, match="closed-form"):
        ClosedFormKL()(mu, logvar, flow.distribution(), RunRandomness([0]))


# -- 3. the 2D trainer ------------------------------------------------------------------------------------------------

FLOW_RUNS = (RunSpec(0, 0.2, 0.3, 0.9), RunSpec(7, 0.5, 0.1, 0.3))


def flow_config(**overrides) -> ToyTrainConfig:
    """S-IntroVAE with a run-stacked flow prior, 10 warm-up + 20 adversarial iterations, two seeds."""
    values = dict(configuration="sintro_flow_ip", prior="decoupled", components=1, learnable_contributions=False,
                  convert_to_mog=False, intro_prior=True, iterations=30, warmup=10, batch_size=32, hidden=16,
                  hidden_layers=2, mc_samples=4, flow_hidden=8, milestones=(100,), runs=FLOW_RUNS)
    values.update(overrides)
    return tiny_config(**values)


def train_stepwise(config: ToyTrainConfig):
    """The trainer's loop, step by step: the flow parameters at the start, at the first adversarial iteration and at
    the end (the same calls as ``ToyTrainer.train``)."""
    trainer = ToyTrainer(config)
    initial = flow_parameters(trainer.model.prior)
    at_warmup = None
    for it in range(config.iterations):
        if it == config.adversarial_start:
            at_warmup = flow_parameters(trainer.model.prior)
        trainer.monitor.observe(it, trainer.train_unit(it))
    trainer.divergences = trainer.monitor.poll("iteration")
    return trainer, initial, at_warmup, flow_parameters(trainer.model.prior)


def _changed_per_run(before: dict, after: dict) -> list[bool]:
    runs = next(iter(before.values())).shape[0]
    return [any(not torch.equal(before[k][r], after[k][r]) for k in before) for r in range(runs)]


@pytest.fixture(scope="module")
def ip_and_fixed():
    return train_stepwise(flow_config()), train_stepwise(flow_config(intro_prior=False, configuration="sintro_flow"))


def test_flow_trains_in_the_warmup_and_afterwards_only_with_ip(ip_and_fixed):
    (ip, ip_init, ip_warm, ip_final), (fixed, fixed_init, fixed_warm, fixed_final) = ip_and_fixed
    assert isinstance(ip.model.prior, DecoupledPrior) and ip.model.prior.blocks[0].scale[0].weight.shape[0] == 2
    assert ip.divergences == [] and fixed.divergences == []
    assert all(torch.isfinite(p).all() for p in (*ip_final.values(), *fixed_final.values()))
    # same seeds, and the warm-up does not depend on IP
    assert all(torch.equal(ip_init[k], fixed_init[k]) and torch.equal(ip_warm[k], fixed_warm[k]) for k in ip_init)
    assert _changed_per_run(ip_init, ip_warm) == [True, True]  # the ELBO warm-up trains the flow
    assert _changed_per_run(ip_warm, ip_final) == [True, True]  # IP: a third player after the warm-up
    unchanged = [k for k in fixed_warm if not torch.equal(fixed_warm[k], fixed_final[k])]
    assert unchanged == [], f"without IP the flow must stay at its warm-up value; moved: {unchanged}"
    assert not bool(ip.model.clip.active) and not bool(fixed.model.clip.active)  # a flow is never soft-clipped


def test_train_matches_the_stepwise_loop_and_save_load_restores_the_flow(ip_and_fixed, tmp_path):
    (stepwise, *_), _ = ip_and_fixed
    result = ToyTrainer(flow_config()).train(progress=False)
    assert result.diverged_at == [None, None]
    for name, value in stepwise.model.state_dict().items():
        assert torch.equal(result.model.state_dict()[name], value), name
    save_runs(result, tmp_path / "runs.pt")
    loaded = load_runs(tmp_path / "runs.pt")
    assert loaded.config == result.config and isinstance(loaded.model.prior, DecoupledPrior)
    assert loaded.model.state_dict().keys() == result.model.state_dict().keys()
    for name, value in result.model.prior.state_dict().items():
        assert torch.equal(loaded.model.prior.state_dict()[name], value), name
    fresh = ToyTrainer(flow_config()).model.prior  # the loaded flow is the trained one, not a new initialisation
    assert _changed_per_run(flow_parameters(fresh), flow_parameters(loaded.model.prior)) == [True, True]
    z = torch.randn(2, 16, 2, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        assert torch.equal(loaded.model.prior.log_prob(z), result.model.prior.log_prob(z))


def test_a_flow_run_trained_in_a_batch_equals_the_same_run_trained_alone(ip_and_fixed):
    (together, *_), _ = ip_and_fixed
    alone = ToyTrainer(flow_config(runs=FLOW_RUNS[1:])).train(progress=False).model.state_dict()
    for name, value in alone.items():
        batched = together.model.state_dict()[name]
        shared = value.dim() == 0 or name.endswith(".mask")  # scalars and the coupling masks have no run axis
        batched = batched if shared else batched[1:2]
        torch.testing.assert_close(batched, value, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("overrides, message", [
    (dict(components=2), "decoupled"),
    (dict(learnable_contributions=True), "decoupled"),
    (dict(z_dim=1), "decoupled"),
    (dict(kl="closed"), "closed form"),
    (dict(model="vae"), "intro_prior"),
])
def test_invalid_flow_configurations_name_the_problem(overrides, message):
    with pytest.raises(ValueError, match=message):
        flow_config(**overrides)


def test_flow_ip_needs_no_mog_conversion_and_is_not_clipped():
    config = flow_config()
    assert config.intro_prior and not config.convert_to_mog and config.conversion_iteration is None
    assert config.clips_logvar is False
    assert flow_config(intro_prior=False).clips_logvar is False
    assert tiny_config().clips_logvar is True  # the MoG+IP contrast
    with pytest.raises(ValueError, match="IP needs a learnable prior"):
        flow_config(prior="standard_gaussian")
    roundtrip = ToyTrainConfig.from_dict(config.to_dict())
    assert roundtrip == config and roundtrip.flow_hidden == 8


# -- 4. the image path ----------------------------------------------------------------------------------------------

def flow_image_config(**overrides) -> ImageTrainConfig:
    values = dict(configuration="flow_ip", prior="decoupled", components=1, learnable_contributions=False,
                  intro_prior=True, r_entropy=0.0, channels=(4,), z_dim=4, flow_blocks=2, flow_hidden=8,
                  epochs=2, warmup_epochs=1, mog_warmup_epochs=0, measure_epochs=(1,))
    values.update(overrides)
    return tiny_image_config(**values)


def test_image_flow_configuration_and_prior():
    config = flow_image_config()
    assert config.clipped is False and config.conversion_epoch is None
    assert flow_image_config(clip_logvar=True).clipped is False
    fixed = flow_image_config(configuration="flow", intro_prior=False)
    assert fixed.warmup_config() == config.warmup_config()  # flow and flow_ip share one warm-up
    with pytest.raises(ValueError, match="IP needs a learnable prior"):
        flow_image_config(prior="standard_gaussian")
    with pytest.raises(ValueError, match="learnable contributions"):
        flow_image_config(learnable_contributions=True)
    prior = build_image_stack(config, [0, 1], (1, 8, 8)).prior
    assert isinstance(prior, DecoupledPrior)
    assert prior.config == DecoupledPriorConfig(4, 2, 8, log_scale_bound=1.0)
    assert isinstance(prior.blocks[0].scale[0], StackedLinear)  # R run-stacked flows, each from its generator
    z = torch.randn(2, 5, 4)
    assert prior.distribution().log_joint(z).shape == (2, 5, 1)


@pytest.fixture(scope="module")
def flow_images() -> torch.Tensor:
    return torch.randint(0, 256, (32, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_image_flow_runs_warmup_and_adversarial_epoch_and_snapshots_restore_it(flow_images, tmp_path):
    ip, fixed = flow_image_config(), flow_image_config(configuration="flow", intro_prior=False)
    initial = flow_parameters(ImageTrainer(ip, flow_images).model.prior)
    run_warmup(ip, flow_images, tmp_path / "warmup.pt", progress=False)
    warm_state = torch.load(tmp_path / "warmup.pt", weights_only=True)["study"]["model"]
    warm = {k.removeprefix("prior."): v for k, v in warm_state.items() if k.startswith("prior.")
            and not k.endswith(".mask")}
    assert warm.keys() == initial.keys()
    assert any(not torch.equal(initial[k], warm[k]) for k in initial)  # the warm-up trains the flow
    moved = {}
    for config in (ip, fixed):
        run_dir = tmp_path / config.configuration
        run_adversarial(config, flow_images, tmp_path / "warmup.pt", [run_dir], run_dir / "checkpoint.pt",
                        progress=False)
        status = json.loads((run_dir / "status.json").read_text())
        assert status == {"completed_epochs": 2, "diverged": False, "diverged_at_epoch": None, "reason": None,
                          "snapshots": [1]}
        snapshot = load_snapshot(run_dir / "snapshots" / "epoch001.pt")  # before the adversarial epoch trains
        assert snapshot.epoch == 1 and isinstance(snapshot.model.prior, DecoupledPrior)
        assert all(torch.equal(p, warm[k]) for k, p in flow_parameters(snapshot.model.prior).items())
        final = load_snapshot(run_dir / "final.pt")
        saved = torch.load(run_dir / "final.pt", weights_only=True)
        assert final.epoch == 2 and saved["prior"] == "DecoupledPrior"
        for name, value in saved["model"].items():
            assert torch.equal(final.model.state_dict()[name], value), name
        final_flow = flow_parameters(final.model.prior)
        assert all(torch.isfinite(p).all() for p in final_flow.values())
        moved[config.configuration] = any(not torch.equal(final_flow[k], warm[k]) for k in warm)
        final.model.eval()
        with torch.no_grad():
            z = final.model.prior_params().sample(3, RunRandomness([0]))
            assert z.shape == (1, 3, 4) and torch.isfinite(final.model.decode(z)).all()
    assert moved == {"flow_ip": True, "flow": False}


# -- 5. reporting -----------------------------------------------------------------------------------------------------

def test_prior_column_parses_and_orders_the_flow_configurations():
    column = PriorColumn.parse("flow_ip")
    assert (column.flow, column.ip, column.lc, column.components) == (True, True, False, 1)
    assert column.header == ("Flow", "IP")
    assert PriorColumn.parse("flow").header == ("Flow", "no LC/IP") and not PriorColumn.parse("flow").ip
    assert not PriorColumn.parse("mog100_lc_ip").flow and not PriorColumn.parse("sg").flow
    names = ["flow_ip", "mog100_lc_ip", "flow", "sg", "mog10"]
    assert sorted(names, key=PriorColumn.parse) == ["sg", "mog10", "mog100_lc_ip", "flow", "flow_ip"]
    assert PriorColumn.parse("mog100_lc_ip") < PriorColumn.parse("flow_ip")
    for bad in ("flow_lc", "flow_lc_ip", "flowip"):
        with pytest.raises(ValueError, match="unknown image configuration"):
            PriorColumn.parse(bad)


def _flow_records(tmp_path):
    records = (_image_seeds("mnist", "sg", 0, (5.0, 5.0, 5.0))
               + _image_seeds("mnist", "mog100_lc_ip", 0, (2.0, 3.0))
               + _image_seeds("mnist", "flow", 0, (3.0, 4.0))
               + _image_seeds("mnist", "flow_ip", 0, (1.0, 2.0)))
    return _write_image_records(tmp_path, records)


def test_table2_leaves_out_the_flow_and_table5_keeps_it(tmp_path):
    paths = _flow_records(tmp_path)
    rows2 = table2.write(paths, tmp_path / "t2.tex", tmp_path / "t2.csv")
    assert set(rows2.configuration) == {"sg", "mog100_lc_ip"}
    assert "Flow" not in (tmp_path / "t2.tex").read_text()
    rows5 = table5.write(paths, tmp_path / "t5.tex", tmp_path / "t5.csv")
    assert list(rows5.configuration.unique()) == ["sg", "mog100_lc_ip", "flow", "flow_ip"]
    fid = rows5[(rows5.configuration == "flow_ip") & (rows5.metric == "fid_gen_paper") & rows5.selected].iloc[0]
    assert (fid["prior"], fid["ip"], fid["lc"], fid["components"], fid["n"]) == ("Flow", True, False, 1, 2)
    assert fid["mean"] == pytest.approx(1.5) and fid["paper_mean"] != fid["paper_mean"]  # no paper value: NaN
    tex = (tmp_path / "t5.tex").read_text()
    assert "Flow" in tex and r"\textbf{1.500 $\pm$ 0.354}" in tex  # the flow IP has the row's lowest FID(GEN)
    with pytest.raises(ValueError, match="no evaluation records"):
        table2.write(paths[-4:], tmp_path / "only_flow.tex", tmp_path / "only_flow.csv")


def test_table1_adds_the_flow_ip_column_only_when_it_was_run(tmp_path):
    base = [_write_metrics(tmp_path / "sg.csv", _seed_rows("8Gaussian", "sintro_sg"))]
    without = table1.write(base, tmp_path / "t1.tex", tmp_path / "t1.csv")
    assert not {"sintro_flow", "sintro_flow_ip"} & set(without.configuration.dropna())
    assert "Flow IP" not in (tmp_path / "t1.tex").read_text()
    flow_ip = _write_metrics(tmp_path / "flow_ip.csv", _seed_rows("8Gaussian", "sintro_flow_ip", (3.0, 5.0)))
    with_flow = table1.write(base + [flow_ip], tmp_path / "t1f.tex", tmp_path / "t1f.csv")
    assert "sintro_flow_ip" in set(with_flow.configuration) and "sintro_flow" not in set(with_flow.configuration)
    assert len(with_flow) == len(without) + 1 * 6  # one more column: every dataset present (8Gaussian) x metric
    cell = with_flow[(with_flow.dataset == "8Gaussian") & (with_flow.configuration == "sintro_flow_ip")
                     & (with_flow.metric == "kl_paper")].iloc[0]
    assert (cell.ours_mean, cell.ours_sem, cell.n) == pytest.approx((4.0, 1.0 / 2 ** 0.5, 2))
    assert cell.paper_mean != cell.paper_mean  # no paper value
    tex = (tmp_path / "t1f.tex").read_text()
    assert "Flow IP" in tex and "4.00 $\\pm$ 0.71" in tex
    header = [line for line in tex.splitlines() if "MoG LC+IP" in line][0]
    assert header.index("MoG LC+IP") < header.index("Flow IP")  # the flow column after the paper's
    csv = pd.read_csv(tmp_path / "t1f.csv")
    assert set(csv.configuration.dropna()) >= {"sintro_sg", "sintro_flow_ip"} and len(csv) == len(with_flow)
