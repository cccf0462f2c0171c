"""R image runs in one network: run r of a stack computes exactly its own single-run reference network (forward in
train and eval mode, gradients, Adam steps), and states move between the two layouts losslessly."""

import pytest
import torch

from vaepriors.core.nets.conv import ConvDecoder, ConvEncoder, StackedConvDecoder, StackedConvEncoder
from vaepriors.core.priors import StandardGaussianPrior
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.model import build_image_vae, build_run_networks

RUNS, CHANNELS, SIZE, Z = 3, (4, 8), 8, 3
REFERENCES = {StackedConvEncoder: ConvEncoder, StackedConvDecoder: ConvDecoder}


def references(reference: type, runs: int = RUNS) -> list[torch.nn.Module]:
    """Each run's network under its own seed, as the trainer builds one run."""
    networks = []
    for run in range(runs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(100 + run)
            networks.append(reference(1, CHANNELS, SIZE, Z).double())
    return networks


def inputs(stack_type: type, n: int = 6, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    shape = (RUNS, n, 1, SIZE, SIZE) if stack_type is StackedConvEncoder else (RUNS, n, Z)
    return torch.randn(shape, generator=generator, dtype=torch.float64)


def per_run(networks: list[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    return torch.stack([network(x[run]) for run, network in enumerate(networks)])


@pytest.mark.parametrize("stack_type", list(REFERENCES))
def test_stack_forward_equals_each_run_in_train_and_eval_mode(stack_type):
    networks = references(REFERENCES[stack_type])
    stack = stack_type.from_runs(networks)
    for step in range(3):  # train mode: per-run batch statistics, and per-run running averages move
        x = inputs(stack_type, seed=step)
        torch.testing.assert_close(stack(x), per_run(networks, x), rtol=1e-12, atol=1e-12)
    for run, network in enumerate(networks):
        for key, value in network.state_dict().items():
            torch.testing.assert_close(stack.run_state(run)[key], value, rtol=1e-12, atol=0, msg=key)
    for network in [stack, *networks]:
        network.eval()
    x = inputs(stack_type, seed=10)
    torch.testing.assert_close(stack(x), per_run(networks, x), rtol=1e-12, atol=1e-12)


def test_stack_outputs_have_the_run_axis_layout():
    encoder = StackedConvEncoder(RUNS, 1, CHANNELS, SIZE, Z)
    decoder = StackedConvDecoder(RUNS, 1, CHANNELS, SIZE, Z)
    assert encoder(torch.zeros(RUNS, 5, 1, SIZE, SIZE)).shape == (RUNS, 5, 2 * Z)
    out = decoder(torch.zeros(RUNS, 5, Z))
    assert out.shape == (RUNS, 5, 1, SIZE, SIZE) and out.is_contiguous()


def test_stack_gradients_and_adam_steps_equal_separate_runs():
    """One Adam over the stack trained on the sum of per-run losses is R separate trainings (Adam is element-wise)."""
    encoders, decoders = references(ConvEncoder), references(ConvDecoder)
    encoder, decoder = StackedConvEncoder.from_runs(encoders), StackedConvDecoder.from_runs(decoders)
    stacked = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-2)
    separate = [torch.optim.Adam([*e.parameters(), *d.parameters()], lr=1e-2) for e, d in zip(encoders, decoders)]

    def losses(x: torch.Tensor, encode, decode) -> torch.Tensor:  # (R,): a reconstruction loss per run
        mu, logvar = encode(x).chunk(2, dim=-1)
        return (decode(mu + logvar.exp()) - x).pow(2).flatten(1).sum(1)

    for step in range(3):
        x = inputs(StackedConvEncoder, seed=step)
        for optimizer in [stacked, *separate]:
            optimizer.zero_grad()
        losses(x, encoder, decoder).sum().backward()
        for run, (e, d) in enumerate(zip(encoders, decoders)):
            losses(x[run:run + 1], lambda v: e(v[0])[None], lambda v: d(v[0])[None]).sum().backward()
            for stack, network in ((encoder, e), (decoder, d)):
                grads = {name: p.grad.chunk(RUNS)[run] for name, p in stack.named_parameters()}
                for name, p in network.named_parameters():
                    torch.testing.assert_close(grads[name], p.grad, rtol=1e-10, atol=1e-12, msg=name)
        for optimizer in [stacked, *separate]:
            optimizer.step()
    for run, (e, d) in enumerate(zip(encoders, decoders)):
        for stack, network in ((encoder, e), (decoder, d)):
            for key, value in network.state_dict().items():
                torch.testing.assert_close(stack.run_state(run)[key], value, rtol=1e-10, atol=1e-12, msg=key)


@pytest.mark.parametrize("stack_type", list(REFERENCES))
def test_unstack_round_trip_and_a_stack_of_one_is_bitwise_the_reference(stack_type):
    networks = references(REFERENCES[stack_type])
    stack = stack_type.from_runs(networks)
    for run, network in enumerate(networks):
        unstacked = stack.unstack(run)
        assert type(unstacked) is REFERENCES[stack_type] and unstacked.training
        for key, value in network.state_dict().items():
            assert torch.equal(unstacked.state_dict()[key], value), key
    again = stack_type.from_runs([stack.unstack(run) for run in range(RUNS)])
    assert all(torch.equal(again.state_dict()[key], value) for key, value in stack.state_dict().items())

    single = [network.float() for network in references(REFERENCES[stack_type], runs=1)]
    one = stack_type.from_runs(single)
    x = inputs(stack_type)[:1].float()
    output = one(x)
    expected = single[0](x[0])
    assert torch.equal(output[0], expected)  # bitwise, as before the run axis (SingleRun)
    for out in (output, expected):
        out.square().sum().backward()
    grads = dict(one.named_parameters())
    assert all(torch.equal(grads[name].grad, p.grad) for name, p in single[0].named_parameters())


def test_from_runs_leaves_the_global_rng_and_rejects_mixed_architectures():
    networks = references(ConvEncoder)
    state = torch.random.get_rng_state()
    StackedConvEncoder.from_runs(networks)
    assert torch.equal(torch.random.get_rng_state(), state)
    with pytest.raises(ValueError, match="different architectures"):
        StackedConvEncoder.from_runs([networks[0], ConvEncoder(1, CHANNELS, SIZE, Z + 1).double()])


def test_a_single_run_state_of_the_former_layout_loads_into_a_stack_of_one():
    """Snapshots written with the SingleRun wrapper hold ``network.``-prefixed single-run keys."""
    network = references(ConvEncoder, runs=1)[0]
    stack = StackedConvEncoder(1, 1, CHANNELS, SIZE, Z).double()
    stack.load_state_dict({f"network.{key}": value for key, value in network.state_dict().items()})
    assert all(torch.equal(stack.run_state(0)[key], value) for key, value in network.state_dict().items())


@pytest.mark.parametrize("stack_type", list(REFERENCES))
def test_speed_options_keep_float32_outputs_close_to_the_runs(stack_type):
    """bf16 autocast covers the network only (outputs in float32); channels-last changes no value."""
    networks = [network.float() for network in references(REFERENCES[stack_type])]
    x = inputs(stack_type).float()
    fast = stack_type.from_runs(networks, channels_last=True).to(memory_format=torch.channels_last)
    torch.testing.assert_close(fast(x), per_run(networks, x), rtol=1e-4, atol=1e-4)
    half = stack_type.from_runs(networks, bf16=True)
    out = half(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, per_run(networks, x), rtol=0.1, atol=0.1)
    out.square().sum().backward()
    assert all(p.grad.dtype == torch.float32 and p.grad.isfinite().all() for p in half.parameters())


def test_build_image_vae_stacks_the_runs_it_is_given():
    config = ImageTrainConfig(dataset="fmnist", configuration="sg", prior="standard_gaussian", channels=CHANNELS,
                              z_dim=Z, epochs=2, warmup_epochs=1, mog_warmup_epochs=1, measure_epochs=())
    shape = (1, SIZE, SIZE)
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        runs.append(build_run_networks(config, shape))
    model = build_image_vae(config, shape, StandardGaussianPrior(2, Z), runs)
    for run, networks in enumerate(runs):
        for stack, network in zip((model.encoder, model.decoder), networks):
            assert all(torch.equal(stack.run_state(run)[key], value) for key, value in network.state_dict().items())
    assert model.encode(torch.rand(2, 5, *shape))[0].shape == (2, 5, Z)
    torch.manual_seed(1)  # without runs: one run from the global RNG, as the trainer seeds it
    single = build_image_vae(config, shape, StandardGaussianPrior(1, Z))
    assert all(torch.equal(single.encoder.run_state(0)[key], value) for key, value in runs[0][0].state_dict().items())
