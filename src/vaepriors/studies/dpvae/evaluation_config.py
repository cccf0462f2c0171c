"""Settings of one dpVAE evaluation (``vaepriors dpvae-evaluate``), apart from the evaluation code.

The command-line parser is generated from this dataclass, so it must import in a blink: every ``vaepriors`` job
builds the whole parser, and importing the evaluation itself (torch-fidelity, torchvision's models, SciPy) took
seconds per job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SKL_SAMPLES = 5_000  # per distribution (paper §5)
LEAKAGE_TAUS = (-90.0, -70.0, -50.0, -30.0, -10.0, -1.0)  # authors' `high_metric`, Fig. 4's x-axis
LEAKAGE_SAMPLES = 3_000  # z ~ q(z) in the authors' `eval.py`
REFERENCE_POSTERIORS = 5_000  # held-out posteriors forming q(z) in the authors' leakage score


@dataclass(frozen=True)
class DpVAEEvalConfig:
    """Sample counts and settings of one evaluation (defaults: the paper's and the authors' where stated)."""

    skl_samples: int = SKL_SAMPLES                  # per distribution (paper §5: 5,000)
    reference_posteriors: int = REFERENCE_POSTERIORS  # held-out posteriors forming q(z) (authors: first 5,000)
    leakage_samples: int = LEAKAGE_SAMPLES          # z ~ q(z) for LS(tau) (authors: 3,000)
    leakage_taus: tuple[float, ...] = LEAKAGE_TAUS
    nll_samples: int = 1_000                        # K of the IS-NLL (the paper says 21,000; compute-bound here)
    nll_examples: int | None = 1_000                # first held-out examples for the IS-NLL; None: all
    nll_batch_size: int = 50                        # examples per IS batch (x nll_chunk_size decodes at once)
    nll_chunk_size: int = 100
    fid_images: int = 10_000                        # generated images per FID (reference: 10k-20k)
    lp_candidate_factor: int = 5                    # FID(LP) keeps the lowest-q 1/factor of the candidates
    fid_extractor: str = "inception"                # evaluation.fid.FID_EXTRACTORS
    fid_weights: str | None = None
    fid_batch_size: int = 64
    batch_size: int = 500                           # encoder / decoder batches
    figure_samples: int = 2_000                     # prior and aggregate-posterior samples kept for the figures
    top_samples: int = 5                            # Fig. 3: top five low- and high-posterior samples
    grid_images: int = 64                           # images per sample grid (Fig. 5)
    traversal_dims: int = 5                         # Fig. 8: top five dimensions by std of q(z)
    traversal_steps: int = 11
    traversal_range: float = 5.0                    # Fig. 8: +- 5 standard deviations
    interpolation_pair: tuple[int, int] = (0, 1)    # held-out examples whose posterior means Fig. 6 connects
    interpolation_steps: int = 10
    density_grid: int = 100                         # grid points per axis for L = 2 densities (Figs. 1, 3, 6)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "leakage_taus", tuple(float(t) for t in self.leakage_taus))
        object.__setattr__(self, "interpolation_pair", tuple(self.interpolation_pair))
        counts = {name: value for name, value in asdict(self).items() if isinstance(value, int)
                  and name not in ("seed", "nll_examples")}
        problems = [f"{name} must be >= 1, got {value}" for name, value in counts.items() if value < 1]
        problems += [f"{name} must be >= 2, got {getattr(self, name)}" for name in ("skl_samples", "traversal_steps",
                     "interpolation_steps", "density_grid") if getattr(self, name) < 2]
        from vaepriors.core.evaluation.fid import FID_EXTRACTORS  # torch-fidelity: seconds to import, so only here

        if self.fid_extractor not in FID_EXTRACTORS:
            problems.append(f"fid_extractor {self.fid_extractor!r} is not one of {sorted(FID_EXTRACTORS)}")
        if self.nll_examples is not None and self.nll_examples < 1:
            problems.append(f"nll_examples must be >= 1 or None, got {self.nll_examples}")
        if problems:
            raise ValueError("invalid dpVAE evaluation configuration: " + "; ".join(problems))
