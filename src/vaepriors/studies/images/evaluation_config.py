"""Settings of one image evaluation (``vaepriors image-evaluate``), apart from the evaluation code.

The command-line parser is generated from this dataclass, so it must import in a blink: every ``vaepriors`` job
builds the whole parser, and importing the evaluation itself (torch-fidelity, torchvision's models, scikit-learn)
took seconds per job.
"""

from __future__ import annotations

from dataclasses import dataclass

# Which snapshot a run is evaluated at: the lowest FID(GEN) (the paper's policy) or the last one.
CHECKPOINT_POLICIES = ("best_fid", "final")


@dataclass(frozen=True)
class ImageEvalConfig:
    fid_extractor: str = "inception"        # inception | classifier
    fid_weights: str | None = None          # Inception weights file (optional) or the classifier file
    fid_images: int = 50_000
    checkpoint_policy: str = "best_fid"
    selection_fid: str = "fid_gen_paper"
    entropy_mc_samples: int = 100
    probe_max_train: int | None = None
    latent_points: int = 10_000
    figure_samples: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.checkpoint_policy not in CHECKPOINT_POLICIES:
            raise ValueError(f"checkpoint_policy must be one of {CHECKPOINT_POLICIES}, got {self.checkpoint_policy!r}")
        if self.selection_fid not in ("fid_gen_paper", "fid_gen_standard"):
            raise ValueError(f"selection_fid must be fid_gen_paper or fid_gen_standard, got {self.selection_fid!r}")
