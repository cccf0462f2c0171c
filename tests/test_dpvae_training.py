import json

import pandas as pd
import pytest
import torch
from torch import nn

from vaepriors.core.losses.regularisers import REGULARISERS
from vaepriors.core.priors import StandardGaussianPrior
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.training.engine import Checkpoint
from vaepriors.studies.dpvae.config import DpVAEConfig, DpVAEStackConfig
from vaepriors.studies.dpvae.model import ARCHITECTURES, build_dpvae
from vaepriors.studies.dpvae.moons import two_moons
from vaepriors.studies.dpvae.trainer import BatchSchedule, DpVAETrainer, load_dpvae, run_dpvae

SMALL_DISCRIMINATOR = {"factor": {"hidden": 32}}  # the 5 x 1000 default is tested in test_regularisers.py


def tiny_config(regulariser: str = "vae", prior: str = "decoupled", **overrides) -> DpVAEConfig:
    values = dict(dataset="moons", regulariser=regulariser, prior=prior, flow_hidden=16, batch_size=16,
                  iterations=12, log_every=3, checkpoint_every=6,
                  regulariser_params=SMALL_DISCRIMINATOR.get(regulariser, {}))
    values.update(overrides)
    return DpVAEConfig(**values)


@pytest.fixture(scope="module")
def moons() -> torch.Tensor:
    return two_moons(seed=0, n_train=64).train  # 4 batches of 16 per epoch: the runs below cross epochs


def parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.named_parameters()}


# -- data -----------------------------------------------------------------------------------------------------------

def test_two_moons_is_seeded_with_the_authors_sizes_and_noise():
    data, again, other = two_moons(seed=3), two_moons(seed=3), two_moons(seed=4)
    assert data.train.shape == (2000, 2) and data.test.shape == (200, 2) and data.train.dtype == torch.float32
    assert torch.equal(data.train, again.train) and torch.equal(data.test, again.test)
    assert not torch.equal(data.train, other.train)
    # upper moon: unit circle about (0, 0); lower moon: unit circle about (1, 1/2); the radial residual is the noise
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.5]])[data.train_labels]
    residual = (data.train - centres).norm(dim=1) - 1.0
    assert residual.std().item() == pytest.approx(0.05, abs=0.004)
    assert data.train_labels.bincount().tolist() == [1000, 1000]


def test_batch_schedule_is_one_permutation_per_epoch_and_run_with_the_last_partial_batch_dropped():
    schedule = BatchSchedule(size=10, batch_size=3, stream=RunRandomness([1, 2]))
    epoch0 = torch.cat([schedule.indices(step) for step in range(3)], dim=1)
    epoch1 = torch.cat([schedule.indices(step) for step in range(3, 6)], dim=1)
    assert epoch0.shape == (2, 9)
    assert all(len(set(epoch[run].tolist())) == 9 for epoch in (epoch0, epoch1) for run in range(2))
    assert not torch.equal(epoch0, epoch1) and not torch.equal(epoch0[0], epoch0[1])
    assert torch.equal(schedule.indices(1), epoch0[:, 3:6])  # a function of the iteration alone
    alone = BatchSchedule(size=10, batch_size=3, stream=RunRandomness([2]))
    assert torch.equal(alone.indices(4), epoch1[1:, 3:6])  # a run's order does not depend on its stack
    with pytest.raises(ValueError, match="batch size"):
        BatchSchedule(size=2, batch_size=3, stream=RunRandomness([1]))


# -- architectures --------------------------------------------------------------------------------------------------

FLATTENED = {"mnist": 512, "fmnist": 512, "svhn": 512, "celeba": 1024}  # reference §4: features before the FC head


@pytest.mark.parametrize("dataset", sorted(ARCHITECTURES))
def test_architecture_maps_data_to_mu_logvar_and_latents_back_to_data(dataset):
    architecture = ARCHITECTURES[dataset]
    latent_dim = architecture.latent_dim
    model = build_dpvae(dataset, latent_dim, "decoupled")
    mu, logvar = model.encode(torch.rand(2, *architecture.data_shape))
    assert mu.shape == logvar.shape == (2, latent_dim)
    assert model.decode(mu).shape == (2, *architecture.data_shape)
    assert model.sample(3).shape == (3, *architecture.data_shape)
    linears = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)]
    assert linears[-1].out_features == 2 * latent_dim
    if dataset in FLATTENED:
        assert linears[0].in_features == FLATTENED[dataset]
    # no accidental identity activations (the authors' LeakyReLU(True) has slope 1)
    leaky = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert all(m.negative_slope < 1.0 for m in leaky)


def test_two_moons_nets_are_100_50_and_nonlinear():
    model = build_dpvae("moons", 2, "standard")
    def widths(network: nn.Module) -> list[int]:
        return [m.out_features for m in network if isinstance(m, nn.Linear)]

    assert widths(model.encoder) == [100, 50, 4] and widths(model.decoder) == [50, 100, 2]
    z = torch.randn(8, 2)
    bias = model.decode(torch.zeros(1, 2))
    assert not torch.allclose(model.decode(2 * z) - bias, 2 * (model.decode(z) - bias), atol=1e-4)
    linear = build_dpvae("moons", 2, "standard", leaky_slope=1.0)  # the authors' accidental linear net
    bias = linear.decode(torch.zeros(1, 2))
    torch.testing.assert_close(linear.decode(2 * z) - bias, 2 * (linear.decode(z) - bias))


def test_prior_without_log_det_is_the_flow_log_density_minus_its_jacobian_term():
    torch.manual_seed(0)
    model = build_dpvae("moons", 2, "decoupled")
    z = torch.randn(1, 5, 2)
    prior = model.prior_distribution()
    _, log_det = prior.to_generation_space(z)
    exact, authors = prior.log_density(z), prior.without_log_det().log_density(z)
    torch.testing.assert_close(exact - authors, log_det)
    assert log_det.abs().min() > 0


@pytest.mark.parametrize("prior", ["standard", "decoupled"])
def test_a_model_saved_before_the_prior_was_a_module_loads(prior):
    """Checkpoints of the earlier layout: the flow under ``flow.*``, no entries for N(0, I)."""
    torch.manual_seed(0)
    model = build_dpvae("moons", 2, prior, flow_hidden=8)
    legacy = {key.replace("prior.", "flow."): value for key, value in model.state_dict().items()
              if prior == "decoupled" or not key.startswith("prior.")}
    torch.manual_seed(1)
    loaded = build_dpvae("moons", 2, prior, flow_hidden=8)
    loaded.load_state_dict(legacy)
    assert all(torch.equal(value, loaded.state_dict()[key]) for key, value in model.state_dict().items())


def test_a_single_run_flow_saved_with_linear_layers_loads():
    """final.pt files of the one-run trainer: the flow's layers were nn.Linear (weight (out, in), bias (out,))."""
    torch.manual_seed(0)
    model = build_dpvae("moons", 2, "decoupled", flow_hidden=8)
    legacy = {key: (value[0].t() if key.endswith("weight") else value.flatten()) if key.startswith("prior.blocks")
              and value.dim() == 3 else value for key, value in model.state_dict().items()}
    assert legacy["prior.blocks.0.scale.0.weight"].shape == (8, 2)
    torch.manual_seed(1)
    loaded = build_dpvae("moons", 2, "decoupled", flow_hidden=8)
    loaded.load_state_dict(legacy)
    assert all(torch.equal(value, loaded.state_dict()[key]) for key, value in model.state_dict().items())


# -- training -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prior", ["standard", "decoupled"])
@pytest.mark.parametrize("regulariser", sorted(REGULARISERS))
def test_every_regulariser_trains_with_either_prior_without_nan_and_moves_every_network(moons, regulariser, prior):
    trainer = DpVAETrainer(tiny_config(regulariser, prior, iterations=6), moons)
    before = {"model": parameters(trainer.model)}
    if regulariser == "factor":
        before["discriminator"] = parameters(trainer.regulariser.discriminator)
    trainer.train(6)
    assert not trainer.divergences and trainer.step == 6 and len(trainer.history) == 2
    assert all(torch.isfinite(torch.tensor(v)).all() for row in trainer.history for v in row.values())
    networks = ["encoder", "decoder"] + (["prior"] if prior == "decoupled" else [])
    after = {"model": parameters(trainer.model)}
    if regulariser == "factor":
        after["discriminator"] = parameters(trainer.regulariser.discriminator)
        assert not any(torch.equal(v, after["discriminator"][k]) for k, v in before["discriminator"].items())
    for network in networks:
        names = [name for name in before["model"] if name.startswith(network + ".")]
        assert names and all(not torch.equal(before["model"][n], after["model"][n]) for n in names), network
    assert isinstance(trainer.model.prior, StandardGaussianPrior) == (prior == "standard")


@pytest.mark.parametrize("regulariser", sorted(REGULARISERS))
def test_decoupled_prior_flow_parameters_receive_gradients(moons, regulariser):
    trainer = DpVAETrainer(tiny_config(regulariser, tc_prior_without_log_det=regulariser == "beta_tc"), moons)
    loss, _, _ = trainer.objective(0)
    loss.sum().backward()
    grads = {name: p.grad for name, p in trainer.model.prior.named_parameters()}
    assert grads and all(g is not None and g.abs().max() > 0 for g in grads.values())


@pytest.mark.parametrize("regulariser, prior, drops", [("beta_tc", "decoupled", True), ("factor", "decoupled", False),
                                                       ("beta_tc", "standard", False)])
def test_the_authors_tc_log_density_acts_on_beta_tc_with_a_decoupled_prior_only(moons, regulariser, prior, drops):
    """An objective variant sets tc_prior_without_log_det for every run; only beta-TC-dpVAE's log p(z) loses the
    Jacobian (Factor-dpVAE's KL keeps it, as in the authors' code)."""
    trainer = DpVAETrainer(tiny_config(regulariser, prior, tc_prior_without_log_det=True), moons)
    z = torch.randn(1, 5, 2)
    full = trainer.model.prior_distribution().log_density(z)
    assert trainer.config.base.drops_tc_log_det is drops
    assert torch.equal(trainer.prior.log_density(z), full) is (not drops or prior == "standard")


@pytest.mark.parametrize("regulariser, prior", [("factor", "decoupled"), ("info", "decoupled"),
                                                ("beta_b", "standard")])
def test_resumed_training_equals_uninterrupted_bit_for_bit(moons, regulariser, prior):
    config = tiny_config(regulariser, prior)
    straight = DpVAETrainer(config, moons)
    straight.train(12)
    first = DpVAETrainer(config, moons)
    first.train(6)  # inside the second epoch: the batch order, noise and permutation streams must all continue
    resumed = DpVAETrainer(config, moons)
    resumed.load_state_dict(first.state_dict())
    resumed.train(12)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    if regulariser == "factor":
        resumed_d, straight_d = (parameters(t.regulariser.discriminator) for t in (resumed, straight))
        assert resumed_d.keys() == straight_d.keys()
        assert all(torch.equal(resumed_d[key], value) for key, value in straight_d.items())
    assert resumed.history == straight.history


def test_run_resumes_from_its_checkpoint_writes_outputs_and_reloads(moons, tmp_path):
    config = tiny_config("info", "decoupled")
    straight = DpVAETrainer(config, moons)
    straight.train(12)
    killed = DpVAETrainer(config, moons)
    killed.train(6, Checkpoint(tmp_path / "checkpoint.pt", DpVAEStackConfig.of(config).to_dict()))
    [status] = run_dpvae(config, moons, [tmp_path / "run"], tmp_path / "checkpoint.pt")
    assert not (tmp_path / "checkpoint.pt").exists()
    assert status == json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["completed_iterations"] == 12 and not status["diverged"] and status["model_iteration"] == 12
    assert status["likelihood"]["variance"] == 0.5  # SSE with weight 1: Gaussian decoder, sigma^2 = 1/2
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["iteration"].tolist() == [3, 6, 9, 12] and history["loss"].tolist() == [
        row["loss"][0] for row in straight.history]
    snapshot = load_dpvae(tmp_path / "run" / "final.pt")
    assert snapshot.config == config and snapshot.iteration == 12 and not snapshot.model.training
    for key, value in straight.model.state_dict().items():
        assert torch.equal(snapshot.model.state_dict()[key], value), key
    with pytest.raises(ValueError, match="does not match"):
        DpVAETrainer(tiny_config("info", "decoupled", seed=1), moons).load_state_dict(straight.state_dict())


SEEDS = [0, 3, 5]


def test_a_diverged_run_keeps_its_last_finite_model_while_the_others_finish(moons, tmp_path, monkeypatch):
    stack = DpVAEStackConfig.product(tiny_config("beta_h", "decoupled"), SEEDS)
    clean = DpVAETrainer(stack, moons)
    clean.train(6)
    at_6 = clean.run_weights(1)
    clean.train(12)
    real_objective = DpVAETrainer.objective

    def nan_in_run_1_at_iteration_7(self, step):
        loss, terms, z = real_objective(self, step)
        return (loss * torch.tensor([1.0, float("nan"), 1.0]), terms, z) if step == 7 else (loss, terms, z)

    monkeypatch.setattr(DpVAETrainer, "objective", nan_in_run_1_at_iteration_7)
    run_dirs = [tmp_path / f"seed{seed}" for seed in SEEDS]
    statuses = run_dpvae(stack, moons, run_dirs, tmp_path / "checkpoint.pt")
    diverged = statuses[1]
    assert diverged["diverged"] and diverged["diverged_at_iteration"] == 7 and diverged["model_iteration"] == 6
    assert diverged["reason"] == "non-finite loss at iteration 7" and diverged["completed_iterations"] == 9
    assert pd.read_csv(run_dirs[1] / "history.csv")["iteration"].tolist() == [3, 6, 9]
    final = load_dpvae(run_dirs[1] / "final.pt")
    assert final.iteration == 6
    for key, value in at_6.items():
        assert torch.equal(final.model.state_dict()[key], value), key
    for run in (0, 2):  # the other runs are untouched by run 1's NaNs
        assert not statuses[run]["diverged"] and statuses[run]["completed_iterations"] == 12
        finished = load_dpvae(run_dirs[run] / "final.pt")
        for key, value in clean.run_weights(run).items():
            assert torch.equal(finished.model.state_dict()[key], value), (run, key)


def assert_run_equals_alone(stack: DpVAEStackConfig, data: torch.Tensor, iterations: int, atol: float = 1e-5) -> None:
    """Every run of ``stack`` trained in the stack equals the run trained alone (weights to ``atol``, history,
    discriminator)."""
    stacked = DpVAETrainer(stack, data)
    stacked.train(iterations)
    for run, config in enumerate(stack.runs):
        alone = DpVAETrainer(config, data)
        alone.train(iterations)
        weights, reference = stacked.run_weights(run), alone.run_weights(0)
        assert weights.keys() == reference.keys()
        for key, value in reference.items():
            torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=atol, msg=f"run {run}: {key}")
        for row, alone_row in zip(stacked.history, alone.history):
            for name, values in alone_row.items():
                expected = values[0] if isinstance(values, list) else values
                actual = row[name][run] if isinstance(row[name], list) else row[name]
                assert actual == pytest.approx(expected, rel=1e-4, abs=1e-4), (run, name)
        if config.regulariser == "factor":
            probe = torch.randn(1, 5, config.latent_dim)
            torch.testing.assert_close(stacked.regulariser.discriminator(probe.expand(len(stack.runs), 5, -1))[run],
                                       alone.regulariser.discriminator(probe)[0], rtol=1e-4, atol=1e-5)


def test_a_run_trained_in_a_stack_equals_the_run_trained_alone_moons_flow_factor(moons):
    assert_run_equals_alone(DpVAEStackConfig.product(tiny_config("factor", "decoupled", iterations=6), SEEDS),
                            moons, 6)


def test_a_run_trained_in_a_stack_equals_the_run_trained_alone_batch_norm_convolutions():
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    config = DpVAEConfig("svhn", "beta_tc", prior="decoupled", latent_dim=4, flow_hidden=8, flow_blocks=2,
                         batch_size=4, iterations=3, log_every=1, checkpoint_every=1)
    # Grouped and plain convolutions round differently, and Adam turns round-off-sized gradients (a convolution's
    # bias before BatchNorm has gradient 0 in exact arithmetic) into steps of up to ~lr: weights agree to
    # 2 lr per iteration, the losses to float tolerance (a run mixed with another would be off by O(1)).
    assert_run_equals_alone(DpVAEStackConfig.product(config, SEEDS), images, 3, atol=2 * config.lr * 3)


def test_a_stack_holds_runs_that_differ_only_in_their_seed():
    config = tiny_config()
    stack = DpVAEStackConfig.product(config, SEEDS)
    assert stack.seeds == SEEDS and stack.base == config and DpVAEStackConfig.from_dict(stack.to_dict()) == stack
    assert DpVAEStackConfig.of(config) == DpVAEStackConfig((config,)) and DpVAEStackConfig.of(stack) is stack
    with pytest.raises(ValueError, match="differ only in their seed"):
        DpVAEStackConfig((config, tiny_config(seed=1, batch_size=8)))
    with pytest.raises(ValueError, match="each seed once"):
        DpVAEStackConfig.product(config, [1, 1])
    with pytest.raises(ValueError, match="at least one run"):
        DpVAEStackConfig(())


def test_image_data_trains_from_uint8_pixels():
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    trainer = DpVAETrainer(DpVAEConfig("fmnist", "beta_h", batch_size=4, iterations=2, log_every=2,
                                       checkpoint_every=2), images)
    trainer.train(2)
    assert not trainer.divergences and trainer.data.dtype == torch.uint8
    # rec is the per-image SSE of [0, 1] pixels: far below what raw 0..255 values would give
    assert 0 < trainer.history[0]["rec"][0] < 784
    with pytest.raises(ValueError, match=r"fmnist data must be \(N, 1, 28, 28\)"):
        DpVAETrainer(DpVAEConfig("fmnist"), torch.zeros(8, 3, 28, 28))


# -- configuration --------------------------------------------------------------------------------------------------

def test_configuration_resolves_the_data_set_defaults_and_round_trips():
    mnist, celeba = DpVAEConfig("mnist", "factor", {"gamma": 10.0}), DpVAEConfig("celeba", prior="decoupled")
    assert (mnist.latent_dim, mnist.batch_size, mnist.lr, mnist.iterations) == (2, 100, 1e-4, 100_000)
    assert (celeba.latent_dim, celeba.batch_size, celeba.flow_blocks, celeba.flow_hidden) == (32, 50, 6, 64)
    assert DpVAEConfig.from_dict(mnist.to_dict()) == mnist
    assert DpVAEConfig.from_dict(json.loads(json.dumps(celeba.to_dict()))) == celeba


@pytest.mark.parametrize("overrides, message", [
    (dict(dataset="cifar"), "dataset 'cifar'"),
    (dict(regulariser="wae"), "regulariser 'wae'"),
    (dict(regulariser="beta_h", regulariser_params={"gama": 1.0}), r"\['gama'\] are not settable fields of 'beta_h'"),
    (dict(regulariser="beta_tc", regulariser_params={"dataset_size": 5}), "set by the trainer"),
    (dict(prior="flow"), "prior 'flow'"),
    (dict(latent_dim=1), "latent_dim must be >= 1 \\(>= 2 for a decoupled prior\\)"),
    (dict(batch_size=1), "batch_size"),
    (dict(reduction="mean"), "reduction 'mean'"),
    (dict(lr=0.0), "lr must be > 0"),
    (dict(variant="authors scaling"), "variant must be a name"),
    (dict(checkpoint_every=4), "checkpoint_every \\(4\\) must be a positive multiple of log_every \\(3\\)"),
])
def test_invalid_configuration_names_the_problem(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)


def test_unknown_keys_in_a_saved_configuration_are_named():
    with pytest.raises(ValueError, match=r"unknown keys \['learning_rate'\]"):
        DpVAEConfig.from_dict({"dataset": "moons", "learning_rate": 1e-3})
