"""Counter-based run streams: SplitMix64 words, the distributions built on them, run independence, resuming."""

import math

import pytest
import torch

from vaepriors.core.randomness import RunRandomness

MASK = (1 << 64) - 1


def splitmix64(seed: int, count: int) -> list[int]:
    """The reference generator in plain Python integers (Steele, Lea & Flood 2014)."""
    state, out = seed & MASK, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def test_words_are_splitmix64_per_run():
    seeds = [1234567, 0, 2**64 - 5, 42]
    rnd = RunRandomness(seeds)
    words = torch.cat([rnd.words(3), rnd.words(4)], dim=1)  # the counter continues across draws
    for run, seed in enumerate(seeds):
        assert [w & MASK for w in words[run].tolist()] == splitmix64(seed, 7)
    assert splitmix64(1234567, 2) == [6457827717110365317, 3203168211198807973]  # the published test vector


def test_a_run_draws_the_same_alone_and_in_a_stack():
    stack, alone = RunRandomness([3, 11, 7]), RunRandomness([11])
    for draw in (lambda r: r.normal(5, 3), lambda r: r.uniform(7), lambda r: r.randint(10, 4),
                 lambda r: r.permutation(9)):
        assert torch.equal(draw(stack)[1], draw(alone)[0])


def test_distributions_have_their_moments():
    rnd = RunRandomness([1, 2])
    normal, uniform = rnd.normal(200_000), rnd.uniform(200_000)
    assert normal.shape == (2, 200_000) and normal.dtype == torch.float32
    assert normal.mean().item() == pytest.approx(0.0, abs=5e-3)
    assert normal.std().item() == pytest.approx(1.0, abs=5e-3)
    assert ((normal.abs() < 1).float().mean().item()) == pytest.approx(math.erf(1 / math.sqrt(2)), abs=3e-3)
    assert 0.0 <= uniform.min().item() and uniform.max().item() < 1.0
    assert uniform.mean().item() == pytest.approx(0.5, abs=3e-3)
    counts = torch.bincount(rnd.randint(6, 60_000).flatten(), minlength=6)
    assert counts.shape == (6,) and (counts - 20_000).abs().max().item() < 600
    assert torch.equal(rnd.permutation(100).sort(dim=1).values, torch.arange(100).expand(2, -1))
    assert not torch.equal(normal[0], normal[1])


def test_state_round_trip_continues_the_stream():
    a = RunRandomness([8, 9])
    a.normal(10)
    b = RunRandomness([8, 9])
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.normal(6), b.normal(6))
    with pytest.raises(ValueError, match="other seeds"):
        RunRandomness([1, 2]).load_state_dict(a.state_dict())
