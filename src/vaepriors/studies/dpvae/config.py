"""Typed configuration of one dpVAE run: a data set's VAE, a regulariser and a standard or decoupled prior.

Defaults are the paper's (App. C, Table 2): Adam lr 1e-4 with the code's betas (0.9, 0.999), 100,000 iterations,
the data set's batch size and latent size (``models.dpvae.ARCHITECTURES``, resolved at construction so the saved
configuration is explicit), K = 6 coupling blocks of width 64, a checkpoint every 10,000 iterations (the authors').

Reconstruction (the authors' convention, reference §2): rec_weight * SSE_n, SSE_n the squared error summed over the
data dimensions, with rec_weight = 1 (their ``mse_weight`` of the paper-matching configs); i.e. a Gaussian decoder
p(x|z) = N(x_hat(z), sigma^2 I) with sigma^2 = 1 / (2 rec_weight) up to its constant (``likelihood_record``).
``reduction`` picks how rec and KL are reduced over the batch (``losses.regularisers.base``): ``per_sample`` (batch
means, the correct per-sample objective) or ``authors`` (batch sums as the authors' code, which divides every
Table 2 weight but beta-VAE-H's beta by the batch size relative to ``per_sample``).

``regulariser_params`` holds the regulariser's own fields (e.g. {"beta": 4.0}, {"sampling": "mss"}); the trainer
supplies ``TRAINER_SUPPLIED`` (reduction, rec_weight, training-set size, latent size, FactorVAE's per-run
discriminator seeds and permutation streams) itself.
``tc_prior_without_log_det`` is the paper-compatible beta-TC-dpVAE estimator: the authors' code drops log|det dg/dz|
from log p(z) in the dimension-wise KL. It acts on ``beta_tc`` with a ``decoupled`` prior only (every other
regulariser's KL keeps the Jacobian in the authors' code too, and the standard prior has none), so an objective
variant can set it for every run.
``variant`` names the objective variant (the workflow's ``dpvae.variants``: ``authors``, the paper-compatible loss
scaling and estimators, or ``per_sample``, the corrected objective) the run belongs to; it is a label for paths and
tables, the other fields define the objective.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from vaepriors.core.losses.regularisers import REDUCTIONS, REGULARISERS
from vaepriors.studies.dpvae.model import ARCHITECTURES, LEAKY_SLOPE, PRIORS

TRAINER_SUPPLIED = ("reduction", "rec_weight", "dataset_size", "latent_dim", "discriminator_seeds", "permutations")


@dataclass(frozen=True)
class DpVAEConfig:
    dataset: str
    regulariser: str = "vae"
    regulariser_params: dict[str, Any] = field(default_factory=dict)
    prior: str = "standard"              # "standard" N(0, I) or "decoupled" (RealNVP flow, trained jointly)
    latent_dim: int | None = None        # None: the data set's default (moons, (F)MNIST 2; SVHN 16; CelebA 32)
    batch_size: int | None = None        # None: the paper's (MNIST 100, SVHN and CelebA 50; two moons 100)
    flow_blocks: int = 6
    flow_hidden: int = 64
    leaky_slope: float = LEAKY_SLOPE     # two moons and CelebA nets; 1.0 = the authors' accidental identity
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    iterations: int = 100_000
    seed: int = 0
    reduction: str = "per_sample"
    rec_weight: float = 1.0
    tc_prior_without_log_det: bool = False
    variant: str = "per_sample"
    log_every: int = 100                 # iterations per history row (and per non-finite check)
    checkpoint_every: int = 10_000       # iterations; a multiple of log_every

    def __post_init__(self) -> None:
        if self.dataset not in ARCHITECTURES:
            raise ValueError(f"invalid dpVAE configuration: dataset {self.dataset!r} is not one of "
                             f"{sorted(ARCHITECTURES)}")
        architecture = ARCHITECTURES[self.dataset]
        object.__setattr__(self, "regulariser_params", dict(self.regulariser_params))
        object.__setattr__(self, "betas", tuple(self.betas))
        if self.latent_dim is None:
            object.__setattr__(self, "latent_dim", architecture.latent_dim)
        if self.batch_size is None:
            object.__setattr__(self, "batch_size", architecture.batch_size)
        problems = [message for ok, message in self._checks() if not ok]
        if problems:
            raise ValueError("invalid dpVAE configuration: " + "; ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.regulariser in REGULARISERS,
             f"regulariser {self.regulariser!r} is not one of {sorted(REGULARISERS)}"),
            *self._parameter_checks(),
            (self.prior in PRIORS, f"prior {self.prior!r} is not one of {sorted(PRIORS)}"),
            (self.latent_dim >= (2 if self.prior == "decoupled" else 1),
             f"latent_dim must be >= 1 (>= 2 for a decoupled prior), got {self.latent_dim}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 (batch estimators), got {self.batch_size}"),
            (self.flow_blocks >= 1 and self.flow_hidden >= 1, "flow_blocks and flow_hidden must be >= 1"),
            (0.0 <= self.leaky_slope <= 1.0, f"leaky_slope must lie in [0, 1], got {self.leaky_slope}"),
            (self.lr > 0 and len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
             f"lr must be > 0 and betas two numbers in [0, 1), got {self.lr}, {self.betas}"),
            (self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}"),
            (self.reduction in REDUCTIONS, f"reduction {self.reduction!r} is not one of {sorted(REDUCTIONS)}"),
            (self.rec_weight > 0, f"rec_weight must be > 0, got {self.rec_weight}"),
            (bool(self.variant.isidentifier()), f"variant must be a name (letters, digits, _), got {self.variant!r}"),
            (self.log_every >= 1 and self.checkpoint_every >= 1 and self.checkpoint_every % self.log_every == 0,
             f"checkpoint_every ({self.checkpoint_every}) must be a positive multiple of log_every "
             f"({self.log_every})"),
        ]

    def _parameter_checks(self) -> list[tuple[bool, str]]:
        """Every regulariser_params key must be an own field of the chosen regulariser."""
        if self.regulariser not in REGULARISERS:
            return []
        own = {f.name for f in fields(REGULARISERS[self.regulariser]) if f.init} - set(TRAINER_SUPPLIED)
        unknown = sorted(set(self.regulariser_params) - own)
        return [(not unknown, f"regulariser_params {unknown} are not settable fields of {self.regulariser!r} "
                              f"(settable: {sorted(own)}; set by the trainer: {list(TRAINER_SUPPLIED)})")]

    @property
    def drops_tc_log_det(self) -> bool:
        """Whether beta-TCVAE's log p(z) is the authors' log N(g(z); 0, I) without log|det dg/dz| (module docstring)."""
        return self.tc_prior_without_log_det and (self.regulariser, self.prior) == ("beta_tc", "decoupled")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "DpVAEConfig":
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"invalid dpVAE configuration: unknown keys {unknown}")
        return cls(**values)


@dataclass(frozen=True)
class DpVAEStackConfig:
    """R runs of one dpVAE configuration trained in one process (docs/dpvae.md "Stacks"): they differ only in
    ``seed``, each seed once."""

    runs: tuple[DpVAEConfig, ...]

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a dpVAE stack needs at least one run")
        if any(replace(run, seed=0) != replace(self.runs[0], seed=0) for run in self.runs):
            raise ValueError("the runs of a dpVAE stack may differ only in their seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"a dpVAE stack holds each seed once, got {self.seeds}")

    @classmethod
    def of(cls, config: "DpVAEStackConfig | DpVAEConfig") -> "DpVAEStackConfig":
        """A stack as it is, or a single run as a stack of one."""
        return config if isinstance(config, DpVAEStackConfig) else cls((config,))

    @classmethod
    def product(cls, config: DpVAEConfig, seeds) -> "DpVAEStackConfig":
        """Runs of ``config`` for every seed, in that order."""
        return cls(tuple(replace(config, seed=int(seed)) for seed in seeds))

    @property
    def base(self) -> DpVAEConfig:
        """The configuration every run shares (its seed is the first run's)."""
        return self.runs[0]

    @property
    def seeds(self) -> list[int]:
        return [run.seed for run in self.runs]

    def to_dict(self) -> dict:
        return {"runs": [run.to_dict() for run in self.runs]}

    @classmethod
    def from_dict(cls, values: dict) -> "DpVAEStackConfig":
        return cls(tuple(DpVAEConfig.from_dict(run) for run in values["runs"]))


def likelihood_record(config: DpVAEConfig) -> dict:
    """The decoder likelihood a run was trained with, written beside its results for evaluation (IS-NLL)."""
    return {"decoder": "gaussian", "variance": 0.5 / config.rec_weight, "rec_weight": config.rec_weight,
            "reconstruction": "rec_weight * sum over data dimensions of (x - x_hat)^2 (no 1/2, no log 2 pi)",
            "batch_reduction": config.reduction}
