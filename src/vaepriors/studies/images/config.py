"""Typed configuration of one image run (S-IntroVAE on MNIST / Fashion-MNIST / CIFAR-10; reference §9)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from vaepriors.core.priors.registry import PRIORS, prior_problems
from vaepriors.core.priors.vamp import VAMP_TO_MOG_WEIGHTS
from vaepriors.studies.images.warmups import ADVERSARIAL_ONLY_FIELDS



@dataclass(frozen=True)
class ImageTrainConfig:
    dataset: str
    configuration: str
    seed: int = 0
    prior: str = "standard_gaussian"
    components: int = 1
    learnable_contributions: bool = False
    intro_prior: bool = False
    r_entropy: float = 0.0
    clip_logvar: bool = True          # adaptive soft clipping of the prior log-variances, IP runs only
    clip_k: float = 10.0
    flow_blocks: int = 6              # decoupled prior: RealNVP coupling blocks of width flow_hidden (dpVAE's)
    flow_hidden: int = 64
    flow_log_scale_bound: float = 1.0  # |log-scale| per coupling block (dpVAE's tanh: 1)
    channels: tuple[int, ...] = (64, 128)
    z_dim: int = 32
    batch_size: int = 128
    epochs: int = 220
    warmup_epochs: int = 20           # VAE (ELBO) epochs before the adversarial phase
    mog_warmup_epochs: int = 5        # VampPrior -> MoG at warmup_epochs - mog_warmup_epochs
    lr: float = 2e-4                  # Adam, constant (the authors' milestone at epoch 350 never fires)
    beta_rec: float = 1.0
    beta_kl: float = 1.0
    beta_neg: float = 256.0
    alpha: float = 2.0
    gamma: float = 1.0
    gamma_r: float = 1e-8
    mc_samples: int = 100
    vamp_to_mog_weights: str = "authors"
    measure_epochs: tuple[int, ...] = (80, 120, 160, 200, 219)  # snapshots for FID, taken before the epoch trains
    checkpoint_every: int = 1         # epochs between resumable checkpoints
    bf16: bool = False                # bf16 autocast of the networks (losses stay float32)
    channels_last: bool = False

    def __post_init__(self) -> None:
        problems = [message for ok, message in self._checks() if not ok]
        if problems:
            raise ValueError(f"invalid image configuration {self.configuration!r}: " + "; ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        prior = prior_problems(self.prior, self.z_dim, self.components, self.learnable_contributions,
                               self.intro_prior)
        return [(False, message) for message in prior] + [
            (self.vamp_to_mog_weights in VAMP_TO_MOG_WEIGHTS, f"vamp_to_mog_weights must be in {VAMP_TO_MOG_WEIGHTS}"),
            (0 <= self.mog_warmup_epochs <= self.warmup_epochs < self.epochs,
             "need 0 <= mog_warmup_epochs <= warmup_epochs < epochs"),
            (all(self.warmup_epochs <= e < self.epochs for e in self.measure_epochs),
             f"measure_epochs must lie in [warmup_epochs, epochs) = [{self.warmup_epochs}, {self.epochs})"),
            (len(self.channels) >= 1 and self.z_dim > 0 and self.batch_size > 1, "channels, z_dim, batch_size > 1"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1 epoch"),
            (self.r_entropy >= 0, "r_entropy must be >= 0"),
        ]

    @property
    def conversion_epoch(self) -> int | None:
        converts = PRIORS[self.prior].converts_to_mog
        return self.warmup_epochs - self.mog_warmup_epochs if converts else None

    @property
    def clipped(self) -> bool:
        return self.intro_prior and self.clip_logvar and PRIORS[self.prior].mixture

    def warmup_config(self) -> "ImageTrainConfig":
        """The configuration of the shared warm-up: adversarial-only fields at their defaults."""
        defaults = {f.name: f.default for f in fields(self) if f.name in ADVERSARIAL_ONLY_FIELDS}
        defaults["configuration"] = "warmup"
        return replace(self, **defaults)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ImageTrainConfig":
        values = dict(values)
        for key in ("channels", "measure_epochs"):
            values[key] = tuple(values[key])
        return cls(**values)


# Fields in which the runs of one stack may differ: everything else is the stack's one configuration.
STACKED_FIELDS = ("seed", "r_entropy")


@dataclass(frozen=True)
class ImageStackConfig:
    """R image runs trained in one process (docs/images.md): one configuration, several (seed, r_entropy) pairs.

    The adversarial stack of a configuration holds its seeds x r_entropy values; its warm-up stack holds one warm-up
    per distinct seed (r_entropy acts only after the warm-up), shared by every run of that seed.
    """

    runs: tuple[ImageTrainConfig, ...]

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("an image stack needs at least one run")
        base = replace(self.runs[0], seed=0, r_entropy=0.0)
        others = [run.configuration for run in self.runs if replace(run, seed=0, r_entropy=0.0) != base]
        if others:
            raise ValueError(f"the runs of an image stack may differ only in {STACKED_FIELDS}; runs of "
                             f"{sorted(set(others))} differ from {self.runs[0].configuration!r} in other fields")
        pairs = [(run.seed, run.r_entropy) for run in self.runs]
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"an image stack holds each (seed, r_entropy) once, got {pairs}")

    @classmethod
    def of(cls, config: "ImageStackConfig | ImageTrainConfig") -> "ImageStackConfig":
        """A stack as it is, or a single run as a stack of one."""
        return config if isinstance(config, ImageStackConfig) else cls((config,))

    @classmethod
    def product(cls, config: ImageTrainConfig, seeds, r_values) -> "ImageStackConfig":
        """Runs of ``config`` for every r_entropy value (outer) and seed (inner)."""
        return cls(tuple(replace(config, seed=int(seed), r_entropy=float(r)) for r in r_values for seed in seeds))

    @property
    def base(self) -> ImageTrainConfig:
        """The configuration every run shares (its seed and r_entropy are the first run's)."""
        return self.runs[0]

    @property
    def seeds(self) -> list[int]:
        """Distinct seeds in order of first appearance."""
        return list(dict.fromkeys(run.seed for run in self.runs))

    def warmup(self) -> "ImageStackConfig":
        return ImageStackConfig(tuple(replace(self.base, seed=seed).warmup_config() for seed in self.seeds))

    def to_dict(self) -> dict:
        return {"runs": [run.to_dict() for run in self.runs]}

    @classmethod
    def from_dict(cls, values: dict) -> "ImageStackConfig":
        return cls(tuple(ImageTrainConfig.from_dict(run) for run in values["runs"]))
