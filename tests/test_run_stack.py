"""Run-stacked dpVAE networks: run r of a stack computes the single-run network of seed r, forward and backward."""

import pytest
import torch
from torch import nn

from vaepriors.core.losses.regularisers import discriminator_network
from vaepriors.core.nets.run_stack import RunStack
from vaepriors.studies.dpvae.model import ARCHITECTURES, build_dpvae, stack_dpvae

SEEDS = [0, 3, 5]


def runs(dataset: str) -> list:
    """The single runs of ``SEEDS`` in float64, where the stack and the runs agree to round-off (in float32, batch
    norm over three images amplifies the different rounding of grouped kernels to ~1e-3 relative in gradients)."""
    models = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        models.append(build_dpvae(dataset, 4, "decoupled", flow_blocks=2, flow_hidden=8).double())
    return models


@pytest.mark.parametrize("dataset", sorted(ARCHITECTURES))
def test_every_run_of_a_stack_computes_its_single_run_network_with_its_gradients(dataset):
    references = runs(dataset)
    stack = stack_dpvae(references, "decoupled", 2, 8)
    x = torch.rand(len(SEEDS), 3, *ARCHITECTURES[dataset].data_shape, dtype=torch.float64)
    mu, logvar = stack.encode(x)  # train mode: BatchNorm uses each run's own batch statistics
    x_hat = stack.decode(mu)
    log_p = stack.prior_distribution().log_density(mu)
    (x_hat.square().sum() + logvar.sum() + log_p.sum()).backward()
    gradients = dict(stack.named_parameters())
    for run, reference in enumerate(references):
        mu_r, logvar_r = reference.encode(x[run])
        x_hat_r = reference.decode(mu_r)
        log_p_r = reference.prior_distribution().log_density(mu_r[None])[0]
        for actual, expected in ((mu[run], mu_r), (logvar[run], logvar_r), (x_hat[run], x_hat_r),
                                 (log_p[run], log_p_r)):
            torch.testing.assert_close(actual, expected)
        (x_hat_r.square().sum() + logvar_r.sum() + log_p_r.sum()).backward()
        for name, parameter in reference.named_parameters():
            per_run = gradients[name].grad.chunk(len(SEEDS))[run]
            torch.testing.assert_close(per_run.reshape(parameter.shape), parameter.grad, msg=name)
        for name, buffer in reference.named_buffers():  # BatchNorm running statistics, per run
            if buffer.dim() and "running" in name:
                torch.testing.assert_close(dict(stack.named_buffers())[name].chunk(len(SEEDS))[run], buffer)


def test_a_stack_of_one_has_the_single_run_state_dict():
    [reference] = runs("celeba")[:1]
    stack = stack_dpvae([reference], "decoupled", 2, 8)
    state, expected = stack.state_dict(), reference.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], value) for key, value in expected.items())


def test_the_discriminator_stack_is_per_run_and_unknown_layers_are_refused():
    networks = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        networks.append(discriminator_network(3, hidden=8))
    stack = RunStack.from_runs(networks)
    z = torch.randn(len(SEEDS), 5, 3)  # float32: no batch statistics, agreement to float round-off
    for run, network in enumerate(networks):
        torch.testing.assert_close(stack(z)[run], network(z[run]))
    with pytest.raises(TypeError, match="no run-stacked counterpart"):
        RunStack(nn.Sequential(nn.Linear(2, 2), nn.Dropout()), 2)
