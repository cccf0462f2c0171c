"""The 2D training schedule's cross-field rules (paper App. C.1; reference §5: a 2,000-iteration VAE warm-up of the
30,000, the VampPrior becoming a MoG ``mog_warmup`` iterations before the warm-up ends), written once:
``ToyTrainConfig`` checks each run with them and the workflow checks ``toy.training`` with them at parse time, so a
bad schedule fails the dry run, not a job. This module imports no torch."""

from __future__ import annotations


def warmup_problem(iterations: int, warmup: int, where: str = "") -> str | None:
    """S-IntroVAE's adversarial phase needs a warm-up inside the run: 0 < warmup <= iterations."""
    if 0 < warmup <= iterations:
        return None
    return f"{where}warmup ({warmup}) must lie in (0, {where}iterations ({iterations})]"


def mog_warmup_problem(warmup: int, mog_warmup: int, where: str = "") -> str | None:
    """The VAMP -> MoG conversion happens at warmup - mog_warmup, inside the warm-up: 0 <= mog_warmup <= warmup."""
    if 0 <= mog_warmup <= warmup:
        return None
    return f"{where}mog_warmup ({mog_warmup}) must lie in [0, {where}warmup ({warmup})]"
