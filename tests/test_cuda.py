"""The training engine on a real GPU; skipped where CUDA is absent (`benchmarks/gpu_check.sh` runs it on a lent GPU).

What the CPU tests cannot show: CUDA-graph replay (`--capture`, core/training/capture.py) trains as the eager steps
do on the same GPU; a captured step reads nothing back to the host (the engine's premise: no synchronisation inside
an interval); a run of an image stack (grouped convolutions, cuDNN) trains as the same run alone; a CUDA run starts
from the weights of a CPU run. Every comparison prints its largest difference, so the log records how close it was.
"""

import pytest
import torch

from conftest import tiny_config
from test_image_training import tiny_image_config
from vaepriors.studies.images.config import ImageStackConfig
from vaepriors.studies.images.trainer import ImageTrainer
from vaepriors.studies.toy2d.config import RunSpec
from vaepriors.studies.toy2d.trainer import ToyTrainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TOY_RUNS = (RunSpec(0, 0.2, 0.3, 0.9), RunSpec(4, 0.5, 0.1, 0.3))


@pytest.fixture(autouse=True)
def _deterministic_float32():
    """cuDNN may use TF32 and pick kernels by timing (some with atomics); the comparisons are of float32 training
    with fixed kernels, so a difference is the code's, not the kernel choice's."""
    settings = [(torch.backends.cudnn, "allow_tf32", False), (torch.backends.cudnn, "deterministic", True),
                (torch.backends.cudnn, "benchmark", False), (torch.backends.cuda.matmul, "allow_tf32", False)]
    previous = [getattr(module, flag) for module, flag, _ in settings]
    for module, flag, value in settings:
        setattr(module, flag, value)
    yield
    for (module, flag, _), value in zip(settings, previous):
        setattr(module, flag, value)


def images(shape=(40, 1, 8, 8)) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def largest_difference(actual: dict, expected: dict) -> float:
    return max((actual[k].float() - v.float()).abs().max().item() for k, v in expected.items() if v.numel())


def assert_states_close(actual: dict, expected: dict, label: str, rtol: float, atol: float) -> None:
    print(f"{label}: largest parameter difference {largest_difference(actual, expected):.3g}")
    for key, value in expected.items():
        torch.testing.assert_close(actual[key], value, rtol=rtol, atol=atol, msg=f"{label}: {key}")


def test_a_cuda_run_starts_from_the_weights_of_a_cpu_run():
    """Weights come from CPU generators: equal. The VampPrior's pseudo-inputs are data drawn on the device from the
    same counter-based streams: equal up to the device's float32 rounding of the samplers' arithmetic."""
    cpu = ToyTrainer(tiny_config(runs=TOY_RUNS)).model.state_dict()
    cuda = ToyTrainer(tiny_config(runs=TOY_RUNS), "cuda").model.state_dict()
    cuda = {key: value.cpu() for key, value in cuda.items()}
    data = "prior.pseudo_inputs"
    print(f"pseudo-inputs CPU vs CUDA: largest difference {largest_difference(cuda, {data: cpu[data]}):.3g}")
    torch.testing.assert_close(cuda.pop(data), cpu.pop(data), rtol=1e-5, atol=1e-6)
    for key, value in cpu.items():
        assert torch.equal(cuda[key], value), key


def test_2d_training_captured_equals_eager_on_cuda():
    """Through the VAMP -> MoG conversion, the clip fit (the graphs invalidated) and the learning-rate milestone."""
    config = tiny_config(runs=TOY_RUNS, iterations=60, milestones=(40,))
    eager = ToyTrainer(config, "cuda").train(progress=False, log_every=20)
    captured_trainer = ToyTrainer(config, "cuda", capture=True)
    captured = captured_trainer.train(progress=False, log_every=20)
    assert len(captured_trainer.graphs.graphs) >= 1
    assert_states_close(captured.model.state_dict(), eager.model.state_dict(), "2D captured vs eager", 1e-4, 1e-5)


def test_image_training_captured_equals_eager_on_cuda():
    """Full and partial batches (one graph each), the warm-up and adversarial phases, the MoG conversion, clipping."""
    config = tiny_image_config()
    eager = ImageTrainer(config, images(), "cuda")
    eager.train(config.epochs, progress=False)
    captured = ImageTrainer(config, images(), "cuda", capture=True)
    captured.train(config.epochs, progress=False)
    assert len(captured.graphs.graphs) >= 2
    assert_states_close(captured.model.state_dict(), eager.model.state_dict(), "images captured vs eager", 1e-4,
                        1e-5)


@pytest.mark.parametrize("capture", [False, True], ids=["eager", "captured"])
def test_a_run_of_a_cuda_image_stack_trains_as_it_trains_alone(capture):
    """Grouped convolutions run other cuDNN kernels than a stack of one: equal up to float32 rounding grown over 15
    Adam steps (each moves a weight by at most ~lr = 2e-4), while another run of the stack differs far more."""
    config = tiny_image_config()
    stack = ImageTrainer(ImageStackConfig.product(config, seeds=[0, 1], r_values=[0.0, 10.0]), images(), "cuda",
                         capture)
    stack.train(config.epochs, progress=False)
    alone = ImageTrainer(ImageStackConfig.product(config, seeds=[1], r_values=[10.0]), images(), "cuda", capture)
    alone.train(config.epochs, progress=False)
    index = [(run.seed, run.r_entropy) for run in stack.config.runs].index((1, 10.0))
    assert_states_close(stack.run_weights(index), alone.run_weights(0), f"stack run vs alone ({stack.runs} runs)",
                        1e-3, 1e-3)
    other = [(run.seed, run.r_entropy) for run in stack.config.runs].index((0, 10.0))
    assert largest_difference(stack.run_weights(other), alone.run_weights(0)) > 1e-2  # the check can tell runs apart


def test_a_captured_step_reads_nothing_back_to_the_host():
    """Past every phase change, an interval of captured 2D iterations and one of image epochs (the permutation, the
    batches, the replays, the divergence monitor) run with CUDA's sync debug mode set to raise on a synchronisation.
    That mode is a PyTorch prototype that does not detect every synchronising operation, so a pass shows no
    synchronisation it knows of; a synchronisation inside a captured step would already fail its capture."""
    toy = ToyTrainer(tiny_config(runs=TOY_RUNS, iterations=60, milestones=(40,)), "cuda", capture=True)
    image = ImageTrainer(tiny_image_config(epochs=8), images(), "cuda", capture=True)
    for unit in range(45):
        toy.monitor.observe(unit, toy.train_unit(unit))
    image.train(7, progress=False)  # the partial batch's graph is captured at its 4th adversarial epoch
    image.begin_interval(7)
    image.progress = False
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for unit in range(45, 60):
            toy.monitor.observe(unit, toy.train_unit(unit))
        image.monitor.observe(7, image.train_unit(7))
    finally:
        torch.cuda.set_sync_debug_mode("default")
