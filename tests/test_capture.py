"""The captured-step protocol on a machine without a GPU: a backend that re-runs the recorded step stands in for
CUDA-graph replay, so the static-buffer contract (inputs copied in, outputs overwritten in place, one graph per phase
and shape, invalidation at phase changes) is checked with the real trainers."""

import pytest
import torch

from conftest import tiny_config
from test_image_training import tiny_image_config
from vaepriors.core.training.capture import StepGraphs, set_learning_rate
from vaepriors.studies.images.trainer import ImageTrainer
from vaepriors.studies.toy2d.config import RunSpec
from vaepriors.studies.toy2d.trainer import ToyTrainer


class ReplayBackend:
    """Graph semantics without CUDA: capture records the step with its static inputs (and runs nothing), a replay
    runs it again on whatever the static inputs hold and writes the results into the static outputs."""

    def __init__(self):
        self.captures = 0

    def warm_up(self, step, inputs):
        return step(*inputs)

    def capture(self, step, inputs):
        self.captures += 1
        outputs = {}

        def replay():
            for name, value in step(*inputs).items():
                if name in outputs:
                    outputs[name].copy_(value)
                else:
                    outputs[name] = value.detach().clone()

        return replay, outputs


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
    assert graphs.graphs == {}
    assert StepGraphs(False)("any", step, torch.ones(1))["double"].item() == 2.0


def test_learning_rate_of_a_capturable_optimizer_is_changed_in_place():
    parameter = torch.nn.Parameter(torch.zeros(2))
    plain = torch.optim.Adam([parameter], lr=1e-3)
    set_learning_rate(plain, 1e-4)
    assert plain.param_groups[0]["lr"] == 1e-4
    tensor_rate = torch.optim.Adam([parameter], lr=torch.tensor(1e-3))
    rate = tensor_rate.param_groups[0]["lr"]
    set_learning_rate(tensor_rate, 1e-5)
    assert tensor_rate.param_groups[0]["lr"] is rate and rate.item() == pytest.approx(1e-5)


def test_2d_training_replayed_equals_eager_training():
    """Through the VAMP -> MoG conversion, the clip fit (graph invalidation) and the learning-rate milestone."""
    config = tiny_config(runs=(RunSpec(0, 0.2, 0.3, 0.9), RunSpec(4, 0.5, 0.1, 0.3)))
    eager = ToyTrainer(config).train(progress=False, log_every=6)
    replayed_trainer = ToyTrainer(config)
    replayed_trainer.graphs = StepGraphs(True, ReplayBackend(), warmup_steps=2)
    replayed = replayed_trainer.train(progress=False, log_every=6)
    assert replayed_trainer.graphs.backend.captures >= 2  # warm-up and adversarial phases
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(replayed.model.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert replayed.history == eager.history


def test_image_training_replayed_equals_eager_training():
    images = torch.randint(0, 256, (40, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    config = tiny_image_config()
    eager = ImageTrainer(config, images)
    eager.train(config.epochs, progress=False)
    replayed = ImageTrainer(config, images)
    replayed.graphs = StepGraphs(True, ReplayBackend(), warmup_steps=1)
    replayed.train(config.epochs, progress=False)
    assert replayed.graphs.backend.captures >= 3  # full and last partial batch, warm-up and adversarial
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(replayed.model.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert replayed.history == eager.history
