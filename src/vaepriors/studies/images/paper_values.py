"""The numbers the paper reports for the image study (Tables 2 and 5), copied verbatim, as data.

Table 5 (App. D.2) is the full ablation: SG, then MoG(10) and MoG(100) (VampPrior during the warm-up) with (LC, IP) in
(✗,✗), (✗,✓), (✓,✗), (✓,✓). Table 2 (§5.2) prints the SG and MoG(100) columns of the same study; both are kept as
printed, and every cell of Table 2 equals the matching cell of Table 5 (checked by a test), so the two tables show the
values of the table they reproduce. Only the row names differ: Table 2's "2K-SVM, 10K-SVM, 5-NN, 100-NN" are Table 5's
"SVM (few/many), KNN (few/many)".

Keyed by our dataset, configuration and evaluation-JSON metric names (docs/images.md). The paper's FIDs are
`fid_*_paper` (train-mode Inception, reference §10.1, §12.1); it reports no standard FID and no precision/recall.
"±" is a standard error (population std / sqrt(n), reference §10.3). A cell printed without "±" (the SG entropy,
one CIFAR-10 entropy) has pm NaN. `r_entropy` is the value the paper selected per configuration (lowest FID(GEN)).
"""

from __future__ import annotations

import math

from vaepriors.core.reporting.paper_cells import PaperTable, Reported

NO_PM = math.nan  # the paper printed the mean alone

IMAGE_DATASETS: tuple[str, ...] = ("mnist", "fmnist", "cifar10")
IMAGE_DATASET_NAMES: dict[str, str] = {"mnist": "MNIST", "fmnist": "FMNIST", "cifar10": "CIFAR-10"}
PAPER_IMAGE_METRICS: tuple[str, ...] = (
    "entropy", "fid_gen_paper", "fid_rec_paper", "svm_few", "svm_many", "knn_few", "knn_many",
)

TABLE5_CONFIGURATIONS: tuple[str, ...] = (
    "sg", "mog10", "mog10_ip", "mog10_lc", "mog10_lc_ip", "mog100", "mog100_ip", "mog100_lc", "mog100_lc_ip",
)
TABLE2_CONFIGURATIONS: tuple[str, ...] = ("sg", "mog100", "mog100_ip", "mog100_lc", "mog100_lc_ip")

# Per dataset: the selected r_entropy, then one row per PAPER_IMAGE_METRICS, each (mean, ±) per configuration.
_TABLE5_R_ENTROPY: dict[str, tuple[float, ...]] = {
    "mnist": (0, 10, 0, 1, 100, 10, 10, 1, 10),
    "fmnist": (0, 10, 10, 0, 1, 0, 10, 10, 10),
    "cifar10": (0, 10, 10, 10, 0, 10, 100, 100, 10),
}
_TABLE5_ROWS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "mnist": (
        ((0, NO_PM), (0.966, 0.013), (0.952, 0.024), (0.948, 0.016), (0.988, 0.002),  # entropy
         (0.892, 0.003), (0.882, 0.003), (0.882, 0.004), (0.853, 0.007)),
        ((1.414, 0.044), (1.38, 0.085), (1.356, 0.173), (1.427, 0.034), (1.365, 0.054),  # fid_gen_paper
         (1.322, 0.044), (1.352, 0.09), (1.32, 0.105), (1.309, 0.046)),
        ((1.503, 0.053), (1.488, 0.124), (1.51, 0.085), (1.629, 0.297), (1.472, 0.120),  # fid_rec_paper
         (1.342, 0.087), (1.473, 0.174), (1.363, 0.13), (1.385, 0.141)),
        ((0.93, 0.002), (0.956, 0.003), (0.972, 0.002), (0.957, 0.004), (0.959, 0.004),  # svm_few
         (0.961, 0.002), (0.97, 0.007), (0.962, 0.003), (0.972, 0.003)),
        ((0.93, 0.002), (0.957, 0.003), (0.972, 0.002), (0.957, 0.003), (0.958, 0.004),  # svm_many
         (0.961, 0.002), (0.97, 0.007), (0.962, 0.003), (0.972, 0.003)),
        ((0.763, 0.005), (0.866, 0.017), (0.943, 0.009), (0.876, 0.012), (0.842, 0.024),  # knn_few
         (0.916, 0.007), (0.947, 0.019), (0.92, 0.002), (0.957, 0.007)),
        ((0.87, 0.006), (0.897, 0.017), (0.949, 0.01), (0.907, 0.01), (0.885, 0.015),  # knn_many
         (0.934, 0.004), (0.953, 0.013), (0.935, 0.002), (0.958, 0.004)),
    ),
    "fmnist": (
        ((0, NO_PM), (0.978, 0.006), (0.982, 0.001), (0.951, 0.011), (0.82, 0.041),  # entropy
         (0.931, 0.005), (0.931, 0.002), (0.944, 0.001), (0.903, 0.009)),
        ((3.326, 0.067), (2.778, 0.155), (3.019, 0.165), (2.836, 0.154), (2.987, 0.124),  # fid_gen_paper
         (2.785, 0.088), (3.025, 0.241), (2.727, 0.137), (2.831, 0.173)),
        ((3.76, 0.168), (3.102, 0.107), (3.406, 0.062), (3.189, 0.159), (3.339, 0.14),  # fid_rec_paper
         (2.994, 0.087), (3.129, 0.165), (3.185, 0.175), (3.511, 0.128)),
        ((0.681, 0.002), (0.703, 0.019), (0.681, 0.018), (0.715, 0.009), (0.68, 0.021),  # svm_few
         (0.731, 0.005), (0.695, 0.011), (0.712, 0.009), (0.696, 0.004)),
        ((0.731, 0.011), (0.771, 0.008), (0.763, 0.011), (0.775, 0.005), (0.765, 0.003),  # svm_many
         (0.78, 0.003), (0.772, 0.005), (0.778, 0.003), (0.773, 0.004)),
        ((0.425, 0.016), (0.594, 0.027), (0.649, 0.021), (0.604, 0.025), (0.618, 0.023),  # knn_few
         (0.683, 0.011), (0.693, 0.014), (0.678, 0.01), (0.707, 0.009)),
        ((0.606, 0.024), (0.682, 0.024), (0.691, 0.013), (0.69, 0.018), (0.659, 0.015),  # knn_many
         (0.736, 0.006), (0.729, 0.01), (0.731, 0.006), (0.739, 0.007)),
    ),
    "cifar10": (
        ((0, NO_PM), (0.895, 0.008), (0.886, 0.01), (0.914, 0.021), (0.0, NO_PM),  # entropy
         (0.839, 0.012), (0.94, 0.004), (0.929, 0.006), (0.511, 0.074)),
        ((4.424, 0.11), (4.538, 0.172), (4.876, 0.13), (4.547, 0.136), (4.595, 0.08),  # fid_gen_paper
         (4.465, 0.066), (4.385, 0.242), (4.417, 0.054), (4.594, 0.407)),
        ((4.13, 0.119), (4.379, 0.092), (4.686, 0.248), (4.539, 0.16), (4.519, 0.102),  # fid_rec_paper
         (4.205, 0.157), (4.084, 0.011), (4.141, 0.068), (4.585, 0.645)),
        ((0.245, 0.015), (0.241, 0.008), (0.264, 0.009), (0.246, 0.017), (0.224, 0.005),  # svm_few
         (0.25, 0.003), (0.271, 0.011), (0.26, 0.003), (0.256, 0.005)),
        ((0.391, 0.009), (0.385, 0.006), (0.379, 0.003), (0.387, 0.003), (0.365, 0.004),  # svm_many
         (0.396, 0.004), (0.407, 0.013), (0.401, 0.003), (0.396, 0.003)),
        ((0.206, 0.002), (0.175, 0.004), (0.238, 0.007), (0.175, 0.004), (0.174, 0.007),  # knn_few
         (0.189, 0), (0.239, 0.009), (0.196, 0.002), (0.219, 0.004)),
        ((0.308, 0.012), (0.192, 0.016), (0.305, 0.002), (0.186, 0.008), (0.219, 0.028),  # knn_many
         (0.216, 0.015), (0.32, 0.009), (0.259, 0.005), (0.273, 0.008)),
    ),
}

# Table 2 (main text): SG and MoG(100) only.
_TABLE2_R_ENTROPY: dict[str, tuple[float, ...]] = {
    "mnist": (0, 10, 10, 1, 10),
    "fmnist": (0, 0, 10, 10, 10),
    "cifar10": (0, 10, 100, 100, 10),
}
_TABLE2_ROWS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "mnist": (
        ((0, NO_PM), (0.892, 0.003), (0.882, 0.003), (0.882, 0.004), (0.853, 0.007)),  # entropy
        ((1.414, 0.044), (1.322, 0.044), (1.352, 0.09), (1.32, 0.105), (1.309, 0.046)),  # fid_gen_paper
        ((1.503, 0.053), (1.342, 0.087), (1.473, 0.174), (1.363, 0.13), (1.385, 0.141)),  # fid_rec_paper
        ((0.93, 0.002), (0.961, 0.002), (0.97, 0.007), (0.962, 0.003), (0.972, 0.003)),  # svm_few
        ((0.93, 0.002), (0.961, 0.002), (0.97, 0.007), (0.962, 0.003), (0.972, 0.003)),  # svm_many
        ((0.763, 0.005), (0.916, 0.007), (0.947, 0.019), (0.92, 0.002), (0.957, 0.007)),  # knn_few
        ((0.87, 0.006), (0.934, 0.004), (0.953, 0.013), (0.935, 0.002), (0.958, 0.004)),  # knn_many
    ),
    "fmnist": (
        ((0, NO_PM), (0.931, 0.005), (0.931, 0.002), (0.944, 0.001), (0.903, 0.009)),  # entropy
        ((3.326, 0.067), (2.785, 0.088), (3.025, 0.241), (2.727, 0.137), (2.831, 0.173)),  # fid_gen_paper
        ((3.76, 0.168), (2.994, 0.087), (3.129, 0.165), (3.185, 0.175), (3.511, 0.128)),  # fid_rec_paper
        ((0.681, 0.002), (0.731, 0.005), (0.695, 0.011), (0.712, 0.009), (0.696, 0.004)),  # svm_few
        ((0.731, 0.011), (0.78, 0.003), (0.772, 0.005), (0.778, 0.003), (0.773, 0.004)),  # svm_many
        ((0.425, 0.016), (0.683, 0.011), (0.693, 0.014), (0.678, 0.01), (0.707, 0.009)),  # knn_few
        ((0.606, 0.024), (0.736, 0.006), (0.729, 0.01), (0.731, 0.006), (0.739, 0.007)),  # knn_many
    ),
    "cifar10": (
        ((0, NO_PM), (0.839, 0.012), (0.94, 0.004), (0.929, 0.006), (0.511, 0.074)),  # entropy
        ((4.424, 0.11), (4.465, 0.066), (4.385, 0.242), (4.417, 0.054), (4.594, 0.407)),  # fid_gen_paper
        ((4.13, 0.119), (4.205, 0.157), (4.084, 0.011), (4.141, 0.068), (4.585, 0.645)),  # fid_rec_paper
        ((0.245, 0.015), (0.25, 0.003), (0.271, 0.011), (0.26, 0.003), (0.256, 0.005)),  # svm_few
        ((0.391, 0.009), (0.396, 0.004), (0.407, 0.013), (0.401, 0.003), (0.396, 0.003)),  # svm_many
        ((0.206, 0.002), (0.189, 0), (0.239, 0.009), (0.196, 0.002), (0.219, 0.004)),  # knn_few
        ((0.308, 0.012), (0.216, 0.015), (0.32, 0.009), (0.259, 0.005), (0.273, 0.008)),  # knn_many
    ),
}


def _keyed(rows: dict[str, tuple[tuple[tuple[float, float], ...], ...]], columns: tuple[str, ...]) -> PaperTable:
    """Turn the positional rows above into {(dataset, metric): {configuration: Reported}}."""
    return {
        (dataset, metric): {column: Reported(*cell) for column, cell in zip(columns, cells, strict=True)}
        for dataset, by_metric in rows.items()
        for metric, cells in zip(PAPER_IMAGE_METRICS, by_metric, strict=True)
    }


def _keyed_r(rows: dict[str, tuple[float, ...]], columns: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """{(dataset, configuration): selected r_entropy}."""
    return {(dataset, column): float(r) for dataset, values in rows.items()
            for column, r in zip(columns, values, strict=True)}


TABLE5: PaperTable = _keyed(_TABLE5_ROWS, TABLE5_CONFIGURATIONS)
TABLE2: PaperTable = _keyed(_TABLE2_ROWS, TABLE2_CONFIGURATIONS)
TABLE5_R_ENTROPY: dict[tuple[str, str], float] = _keyed_r(_TABLE5_R_ENTROPY, TABLE5_CONFIGURATIONS)
TABLE2_R_ENTROPY: dict[tuple[str, str], float] = _keyed_r(_TABLE2_R_ENTROPY, TABLE2_CONFIGURATIONS)
