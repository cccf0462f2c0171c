"""The paper's image networks per dataset, for the benchmarks: (image shape, channels, z, batch, training images).
Fashion-MNIST and MNIST share one network; CIFAR-10 is the largest (config.yaml, images.per_dataset)."""

PAPER = {"fmnist": ((1, 28, 28), (64, 128), 32, 128, 60_000), "cifar10": ((3, 32, 32), (64, 128, 256), 128, 32, 50_000)}
