"""t-SNE embedding of the aggregated posterior (paper Figs. 4 and 9) with openTSNE.

The authors embed latents with scikit-learn's t-SNE at perplexity 40 and 300 iterations (reference §11.2); in
scikit-learn the first 250 of those iterations are early exaggeration, so only 50 refine the layout. We keep
openTSNE's defaults instead (perplexity 30, 250 exaggerated + 500 refining iterations, PCA initialisation), which
converge on the ~10k test points; the perplexity is an argument for matching the authors' 40. The embedding is a
picture of cluster separation only: no number in the tables depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

TSNE_POINTS: tuple[str, ...] = ("z", "mu")  # which latents of the _latents.npz to embed


def embed_latents(latents: np.ndarray, seed: int, perplexity: float = 30.0, n_jobs: int = 1) -> np.ndarray:
    """(N, d) latents -> (N, 2) embedding, deterministic for a fixed seed and n_jobs.

    `perplexity` is capped at (N - 1) / 3 because the neighbour graph uses 3 * perplexity neighbours.
    """
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or len(latents) < 4:
        raise ValueError(f"need (N >= 4, d) latents, got shape {latents.shape}")
    perplexity = min(perplexity, (len(latents) - 1) / 3)
    from openTSNE import TSNE  # here: the figures read embeddings (load_tsne) without openTSNE and scikit-learn

    tsne = TSNE(n_components=2, perplexity=perplexity, initialization="pca", random_state=seed, n_jobs=n_jobs)
    return np.asarray(tsne.fit(latents))


def subsample_indices(n: int, max_points: int, seed: int) -> np.ndarray:
    """Sorted indices of at most max_points of n rows, the same for the same seed (all rows when n <= max_points)."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


@dataclass(frozen=True)
class TsneEmbedding:
    """A t-SNE file: the 2D embedding of (a subsample of) the test latents and their class labels."""

    embedding: np.ndarray  # (M, 2)
    labels: np.ndarray  # (M,)


def write_tsne(latents_npz: str | Path, out_npz: str | Path, max_points: int, seed: int, points: str = "z",
               perplexity: float = 30.0, n_jobs: int = 1) -> TsneEmbedding:
    """Embed `points` (one posterior sample `z`, or `mu`) of a _latents.npz; saves embedding, labels, indices."""
    if points not in TSNE_POINTS:
        raise ValueError(f"points must be one of {TSNE_POINTS}, got {points!r}")
    with np.load(latents_npz) as npz:
        latents, labels = npz[points], npz["labels"]
    indices = subsample_indices(len(latents), max_points, seed)
    result = TsneEmbedding(embed_latents(latents[indices], seed, perplexity, n_jobs).astype(np.float32),
                           labels[indices])
    out_npz = Path(out_npz)
    out_npz.parent.mkdir(parents=True, exist_ok=True)
    with out_npz.open("wb") as handle:  # a file handle keeps np.savez from renaming the output
        np.savez(handle, embedding=result.embedding, labels=result.labels, indices=indices, points=points,
                 perplexity=perplexity, seed=seed)
    return result


def load_tsne(path: str | Path) -> TsneEmbedding:
    with np.load(path) as npz:
        return TsneEmbedding(npz["embedding"], npz["labels"])
