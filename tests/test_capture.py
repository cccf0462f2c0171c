"""The captured-step protocol on a machine without a GPU: a backend that re-runs the recorded step stands in for
CUDA-graph replay, so the static-buffer contract (inputs copied in, outputs overwritten in place, one graph per phase
and shape, invalidation at phase changes) is checked with the real trainers."""

import os
import traceback

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import tiny_config
from test_image_training import tiny_image_config
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.training.capture import CudaGraphBackend, StepGraphs, set_learning_rate
from vaepriors.studies.images.trainer import ImageTrainer
from vaepriors.studies.toy2d.config import RunSpec
from vaepriors.studies.toy2d.data import SAMPLERS
from vaepriors.studies.toy2d.trainer import ToyTrainer


class NoHostTraffic(TorchDispatchMode):
    """Raises on what a CUDA graph cannot capture, visible on the CPU too: a tensor made from host data inside the
    step (``torch.tensor(...)``, a host-to-device copy on a GPU) and a value read back to the host (``.item()``,
    ``bool(t)``, ``nonzero``: a synchronisation). Adam's CPU path reads its step count on the host; on a GPU the
    trainers build capturable Adam (``players.build_optimizers``), which reads nothing, so torch.optim is exempt."""

    FORBIDDEN = {torch.ops.aten.lift_fresh.default: "a tensor made from host data (torch.tensor inside the step)",
                 torch.ops.aten._local_scalar_dense.default: "a value read back to the host (.item(), bool(t))",
                 torch.ops.aten.nonzero.default: "nonzero (its output size is read back to the host)"}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.FORBIDDEN and not any(f"torch{os.sep}optim{os.sep}" in frame.filename
                                              for frame in traceback.extract_stack()):
            raise AssertionError(f"a captured step must not contain {self.FORBIDDEN[func]}")
        return func(*args, **(kwargs or {}))


class ReplayBackend:
    """Graph semantics without CUDA: capture records the step with its static inputs (and runs nothing), a replay
    runs it again on whatever the static inputs hold and writes the results into the static outputs. A replayed step
    runs under ``NoHostTraffic``, so what CUDA-graph capture would reject fails here too."""

    def __init__(self):
        self.captures = self.resets = 0

    def warm_up(self, step, inputs):
        return step(*inputs)

    def capture(self, step, inputs):
        self.captures += 1
        outputs = {}

        def replay():
            with NoHostTraffic():
                results = step(*inputs)
            for name, value in results.items():
                if name in outputs:
                    outputs[name].copy_(value)
                else:
                    outputs[name] = value.detach().clone()

        return replay, outputs

    def reset(self):
        self.resets += 1


def test_one_step_per_call_static_inputs_and_outputs():
    seen = []

    def step(x):
        seen.append(x.clone())
        return {"double": 2 * x}

    graphs = StepGraphs(True, ReplayBackend(), warmup_steps=2)
    results = [graphs("phase", step, torch.full((3,), float(i)))["double"].clone() for i in range(5)]
    assert [r[0].item() for r in results] == [0.0, 2.0, 4.0, 6.0, 8.0]  # every call trains (here: doubles) once
    assert len(seen) == 5 and graphs.backend.captures == 1
    first = graphs("phase", step, torch.full((3,), 7.0))
    again = graphs("phase", step, torch.full((3,), 9.0))
    assert first is again and again["double"][0].item() == 18.0  # static outputs: overwritten by the next replay
    graphs("phase", step, torch.zeros(4))  # a new shape gets its own graph (after its own warm-up)
    graphs("other", step, torch.zeros(3))
    assert len(graphs.graphs) == 3
    graphs.invalidate()
    assert graphs.graphs == {} and graphs.backend.resets == 1
    assert StepGraphs(False)("any", step, torch.ones(1))["double"].item() == 2.0


def test_invalidated_graphs_give_up_their_memory_pool():
    """Graphs captured after a phase change must not reuse the pool of the dropped graphs: PyTorch's allocator fails
    an internal assertion when a capture names a freed pool (seen on an H200 at the VAMP -> MoG conversion)."""
    backend = CudaGraphBackend()
    backend.pool = (0, 1)  # as torch.cuda.CUDAGraph.pool() returns after a capture
    StepGraphs(True, backend).invalidate()
    assert backend.pool is None


@pytest.mark.parametrize("dataset", sorted(SAMPLERS))
def test_every_2d_sampler_can_run_inside_a_captured_step(dataset):
    """After a first, eager draw (the warm-up steps), a draw reads no host data and nothing back to the host."""
    rnd = RunRandomness([0, 1], "cpu")
    SAMPLERS[dataset](16, rnd)
    with NoHostTraffic():
        assert SAMPLERS[dataset](16, rnd).shape == (2, 16, 2)


def test_learning_rate_of_a_capturable_optimizer_is_changed_in_place():
    parameter = torch.nn.Parameter(torch.zeros(2))
    plain = torch.optim.Adam([parameter], lr=1e-3)
    set_learning_rate(plain, 1e-4)
    assert plain.param_groups[0]["lr"] == 1e-4
    tensor_rate = torch.optim.Adam([parameter], lr=torch.tensor(1e-3))
    rate = tensor_rate.param_groups[0]["lr"]
    set_learning_rate(tensor_rate, 1e-5)
    assert tensor_rate.param_groups[0]["lr"] is rate and rate.item() == pytest.approx(1e-5)


PLAIN = dict(components=1, learnable_contributions=False, intro_prior=False, convert_to_mog=False)
TOY_CONFIGURATIONS = {  # every model and prior of the 2D study (config.yaml), each on another dataset
    "sintro_mog_lc_ip": {},
    "sintro_flow_ip": dict(PLAIN, prior="decoupled", intro_prior=True, flow_hidden=8, flow_blocks=2,
                           dataset="spiral"),
    "sintro_sg": dict(PLAIN, prior="standard_gaussian", kl="closed", dataset="checkerboard"),
    "vae_vamp_lc": dict(PLAIN, model="vae", prior="vamp", components=8, learnable_contributions=True,
                        dataset="rings"),
}


@pytest.mark.parametrize("configuration", sorted(TOY_CONFIGURATIONS))
def test_2d_training_replayed_equals_eager_training(configuration):
    """Through the VAMP -> MoG conversion, the clip fit (graph invalidation) and the learning-rate milestone."""
    config = tiny_config(runs=(RunSpec(0, 0.2, 0.3, 0.9), RunSpec(4, 0.5, 0.1, 0.3)), configuration=configuration,
                         **TOY_CONFIGURATIONS[configuration])
    eager = ToyTrainer(config).train(progress=False, log_every=6)
    replayed_trainer = ToyTrainer(config)
    replayed_trainer.graphs = StepGraphs(True, ReplayBackend(), warmup_steps=2)
    replayed = replayed_trainer.train(progress=False, log_every=6)
    assert replayed_trainer.graphs.backend.captures >= (1 if config.model == "vae" else 2)  # warm-up, adversarial
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(replayed.model.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert replayed.history == eager.history


IMAGE_CONFIGURATIONS = {  # the priors of the image study: MoG (from a VampPrior) with LC and IP, N(0, I), the flow
    "mog4_lc_ip": {},
    "sg": dict(prior="standard_gaussian", components=1, learnable_contributions=False, intro_prior=False,
               r_entropy=0.0),
    "flow_ip": dict(prior="decoupled", components=1, learnable_contributions=False, r_entropy=0.0),
}


@pytest.mark.parametrize("configuration", sorted(IMAGE_CONFIGURATIONS))
def test_image_training_replayed_equals_eager_training(configuration):
    images = torch.randint(0, 256, (40, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    config = tiny_image_config(configuration=configuration, **IMAGE_CONFIGURATIONS[configuration])
    eager = ImageTrainer(config, images)
    eager.train(config.epochs, progress=False)
    replayed = ImageTrainer(config, images)
    replayed.graphs = StepGraphs(True, ReplayBackend(), warmup_steps=1)
    replayed.train(config.epochs, progress=False)
    assert replayed.graphs.backend.captures >= 3  # full and last partial batch, warm-up and adversarial
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(replayed.model.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert replayed.history == eager.history
