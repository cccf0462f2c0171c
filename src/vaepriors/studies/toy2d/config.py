"""Typed configuration of a batch of 2D runs that share one prior configuration."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from vaepriors.core.priors.registry import PRIORS, prior_problems
from vaepriors.core.priors.vamp import VAMP_TO_MOG_WEIGHTS
from vaepriors.studies.toy2d.data import SAMPLERS
from vaepriors.studies.toy2d.schedule import mog_warmup_problem, warmup_problem

MODELS = ("vae", "sintro")


@dataclass(frozen=True)
class RunSpec:
    """One independent run inside a vectorised batch."""

    seed: int
    beta_rec: float
    beta_kl: float
    beta_neg: float

    def __post_init__(self) -> None:
        """The betas weight loss terms (a negative beta_kl would reward a posterior far from the prior)."""
        bad = {name: value for name, value in vars(self).items()
               if name != "seed" and not (value > 0 and math.isfinite(value))}
        if bad:
            raise ValueError(f"invalid 2D run (seed {self.seed}): betas must be positive and finite, got {bad}")


@dataclass(frozen=True)
class ToyTrainConfig:
    dataset: str
    configuration: str
    model: str = "sintro"
    prior: str = "standard_gaussian"
    components: int = 1
    learnable_contributions: bool = False
    intro_prior: bool = False
    convert_to_mog: bool = False
    iterations: int = 30_000
    warmup: int = 2_000
    mog_warmup: int = 100
    batch_size: int = 512
    lr: float = 2e-4
    milestones: tuple[int, ...] = (10_000, 15_000)
    lr_gamma: float = 0.1
    hidden: int = 256
    hidden_layers: int = 4
    z_dim: int = 2
    kl: str = "mc"
    mc_samples: int = 100
    alpha: float = 2.0
    gamma: float = 1.0
    gamma_r: float = 1e-8
    scale: float = 0.5
    r_entropy: float = 0.0
    clip_k: float = 10.0
    flow_blocks: int = 6               # decoupled prior: RealNVP coupling blocks of width flow_hidden (dpVAE's)
    flow_hidden: int = 64
    flow_log_scale_bound: float = 1.0  # |log-scale| per coupling block (dpVAE's tanh: 1)
    vamp_to_mog_weights: str = "authors"
    runs: tuple[RunSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValueError("invalid 2D training configuration: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        prior = prior_problems(self.prior, self.z_dim, self.components, self.learnable_contributions,
                               self.intro_prior)
        if prior:
            return prior
        kind = PRIORS[self.prior]
        checks = [
            (self.dataset in SAMPLERS, f"dataset {self.dataset!r} is not one of {sorted(SAMPLERS)}"),
            (self.model in MODELS, f"model {self.model!r} is not one of {MODELS}"),
            (self.vamp_to_mog_weights in VAMP_TO_MOG_WEIGHTS, f"vamp_to_mog_weights must be in {VAMP_TO_MOG_WEIGHTS}"),
            (self.iterations > 0 and self.batch_size > 0, "iterations and batch_size must be positive"),
            (self.model == "vae" or warmup_problem(self.iterations, self.warmup) is None,
             f"S-IntroVAE: {warmup_problem(self.iterations, self.warmup)}"),
            (not self.convert_to_mog or (kind.converts_to_mog and self.model == "sintro"),
             "convert_to_mog needs an S-IntroVAE with a VampPrior"),
            (not self.convert_to_mog or mog_warmup_problem(self.warmup, self.mog_warmup) is None,
             f"convert_to_mog: {mog_warmup_problem(self.warmup, self.mog_warmup)}"),
            (not self.intro_prior or (self.model == "sintro" and (self.convert_to_mog or not kind.converts_to_mog)),
             "intro_prior (IP) needs an S-IntroVAE, and a VampPrior must become a MoG first (convert_to_mog)"),
            (self.kl == "mc" or (self.kl == "closed" and kind.closed_form_kl),
             f"kl={self.kl!r}: the {self.prior} prior has no closed form of the KL; use mc"),
            (1 <= self.components <= self.batch_size,
             "need 1 <= components <= batch_size (a VampPrior's pseudo-inputs come from one batch)"),
            (len(self.runs) > 0, "no runs: give seeds and betas"),
        ]
        return [message for ok, message in checks if not ok]

    @property
    def adversarial_start(self) -> int:
        """First adversarial iteration; a VAE never leaves the ELBO phase."""
        return self.iterations if self.model == "vae" else self.warmup

    @property
    def clips_logvar(self) -> bool:
        """IP runs of a mixture prior soft-clip its log-variances; others have none to clip (a flow's scale bound is
        built in)."""
        return self.intro_prior and PRIORS[self.prior].mixture

    @property
    def conversion_iteration(self) -> int | None:
        return self.warmup - self.mog_warmup if self.convert_to_mog else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ToyTrainConfig":
        values = dict(values)
        values["runs"] = tuple(RunSpec(**run) for run in values["runs"])
        values["milestones"] = tuple(values["milestones"])
        return cls(**values)


@dataclass(frozen=True)
class ToyEvalConfig:
    """Sample and grid sizes of the 2D evaluation (docs/interfaces.md; the paper's 1024² grid, 5,000 points)."""

    hist_samples: int = 5000
    bins: int = 100
    grid_size: int = 1024
    gnelbo_batches: int = 100
    gnelbo_batch_size: int = 128
    mc_samples: int = 100
    figure_samples: int = 1024
    figure_grid: int = 256
    chunk_elements: int = 2**25  # bound on the (runs x points x MC x K) work tensor of the NELBO pass (CPU)
    gpu_chunk_elements: int = 2**28
