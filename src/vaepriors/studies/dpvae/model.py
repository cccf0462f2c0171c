"""Encoders and decoders of the dpVAE paper per data set, and the VAE around them with a standard or decoupled prior.

Architectures are the authors' code (reference §4; the paper's Fig. 10 is an image): the encoder maps x to 2L numbers
(mu, logvar), the decoder maps z (N, L) to the mean of a Gaussian p(x|z) with no output nonlinearity.

- ``moons``: FC 2 -> 100 -> 50 -> 2L, decoder L -> 50 -> 100 -> 2 (App. C), L = 2.
- ``mnist`` / ``fmnist`` (Fashion-MNIST in place of MNIST in the reduced run): four convolutions (32 channels, ReLU)
  to 32x4x4, FC 512 -> 256 -> 256 -> 2L; the decoder mirrors it with transposed convolutions. L = 2 (every released
  config, Fig. 6). The authors' FactorVAE-on-MNIST net (``FactorMNIST``) is not provided: the paper states one
  architecture for all regularisers.
- ``svhn``: eight convolutions (32 channels, BN, ReLU) to 32x4x4, FC 512 -> 2L; the decoder alternates transposed and
  plain convolutions (no BN).
- ``celeba`` (64x64): five stride-2 convolutions (32, 64, 128, 256, 256; BN, leaky ReLU) to 256x2x2, FC 1024 -> 2L;
  the decoder upsamples (nearest, replication pad, 3x3 conv, BN eps 1e-3, leaky ReLU) from 256x2x2.

Leaky slopes. The authors' code writes ``nn.LeakyReLU(True)`` in *every* layer of the two-moons nets and of the CelebA
encoder and decoder: the first argument is the negative slope, so the slope is 1 and these layers are the identity
(the nets are linear apart from BN). Here they get a real slope, ``leaky_slope`` (default 0.01: PyTorch's default,
which the intended ``inplace=True`` call would have kept, and Maas et al. [34] that the paper cites); 1.0 reproduces
the authors' linear nets. MNIST and SVHN use ReLU as in the paper and the code.

Stacks (docs/dpvae.md "Stacks and streams"): ``stack_dpvae`` puts R single runs of one configuration into one model
whose networks are ``models.run_stack.RunStack``s of these ``nn.Sequential``s and whose prior holds R runs.

Latent sizes the paper does not state (SVHN, CelebA) are defaults of the registry, overridable by the configuration:
SVHN L = 16 and CelebA L = 32 (reference §4 "Latent dims": CelebA needs >= 5; 1Konny's beta-VAE uses 32 on CelebA).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from vaepriors.core.nets.run_stack import RunStack
from vaepriors.core.nets.run_states import stack_states
from vaepriors.core.priors import Prior, PriorDistribution, PriorRequest, StandardGaussianPrior, build_prior

LEAKY_SLOPE = 0.01
NetworkBuilder = Callable[[int, float], nn.Module]  # (latent_dim L, leaky_slope) -> network
ConvSpec = tuple[type[nn.Module], int, int, int, int, int]  # (layer class, in, out, kernel, stride, padding)


def _conv_layers(specs: list[ConvSpec], activation: Callable[[], nn.Module],
                 batch_norm: bool = False) -> list[nn.Module]:
    """[conv, (BN), activation] per spec."""
    layers: list[nn.Module] = []
    for layer, c_in, c_out, kernel, stride, padding in specs:
        layers += [layer(c_in, c_out, kernel, stride, padding), *([nn.BatchNorm2d(c_out)] if batch_norm else []),
                   activation()]
    return layers


def _mlp(widths: list[int], slope: float) -> nn.Sequential:
    """Linear layers of the given widths with LeakyReLU(slope) between them, none after the last."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(c_in, c_out), nn.LeakyReLU(slope)]
    return nn.Sequential(*layers[:-1])


# ---------------------------------------------------------------------------------------------------- two moons

def moons_encoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, 2) -> (N, 2L)."""
    return _mlp([2, 100, 50, 2 * latent_dim], slope)


def moons_decoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, L) -> (N, 2)."""
    return _mlp([latent_dim, 50, 100, 2], slope)


# ------------------------------------------------------------------------------------------------- (F)MNIST 28x28

_C, _T = nn.Conv2d, nn.ConvTranspose2d
MNIST_CONVS: list[ConvSpec] = [(_C, 1, 32, 4, 2, 1), (_C, 32, 32, 3, 1, 0), (_C, 32, 32, 4, 2, 1),
                               (_C, 32, 32, 3, 1, 0)]  # 28 -> 14 -> 12 -> 6 -> 4
MNIST_DECONVS: list[ConvSpec] = [(_T, 32, 32, 3, 1, 0), (_T, 32, 32, 4, 2, 1), (_T, 32, 32, 3, 1, 0)]  # 4 -> 14


def mnist_encoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, 1, 28, 28) -> (N, 2L); ``slope`` unused (ReLU)."""
    return nn.Sequential(*_conv_layers(MNIST_CONVS, nn.ReLU), nn.Flatten(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim))


def mnist_decoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, L) -> (N, 1, 28, 28); ``slope`` unused (ReLU)."""
    return nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 512),
                         nn.ReLU(), nn.Unflatten(1, (32, 4, 4)), *_conv_layers(MNIST_DECONVS, nn.ReLU),
                         nn.ConvTranspose2d(32, 1, 4, 2, 1))


# ---------------------------------------------------------------------------------------------------- SVHN 32x32

SVHN_CONVS: list[ConvSpec] = [(_C, 3, 32, 4, 2, 1), (_C, 32, 32, 3, 1, 1), (_C, 32, 32, 4, 2, 1),
                              (_C, 32, 32, 3, 1, 1), (_C, 32, 32, 3, 1, 0), (_C, 32, 32, 3, 1, 1),
                              (_C, 32, 32, 3, 1, 0), (_C, 32, 32, 3, 1, 1)]  # 32 -> 16 -> 8 -> 6 -> 4
SVHN_DECONVS: list[ConvSpec] = [(_T, 32, 32, 3, 1, 0), (_C, 32, 32, 3, 1, 1), (_T, 32, 32, 3, 1, 0),
                                (_C, 32, 32, 3, 1, 1), (_T, 32, 32, 4, 2, 1), (_C, 32, 32, 3, 1, 1),
                                (_T, 32, 32, 4, 2, 1)]  # 4 -> 6 -> 8 -> 16 -> 32


def svhn_encoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, 3, 32, 32) -> (N, 2L); ``slope`` unused (ReLU)."""
    return nn.Sequential(*_conv_layers(SVHN_CONVS, nn.ReLU, batch_norm=True), nn.Flatten(),
                         nn.Linear(512, 2 * latent_dim))


def svhn_decoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, L) -> (N, 3, 32, 32); ``slope`` unused (ReLU)."""
    return nn.Sequential(nn.Linear(latent_dim, 512), nn.ReLU(), nn.Unflatten(1, (32, 4, 4)),
                         *_conv_layers(SVHN_DECONVS, nn.ReLU), nn.Conv2d(32, 3, 3, 1, 1))


# -------------------------------------------------------------------------------------------------- CelebA 64x64

CELEBA_WIDTHS = (32, 64, 128, 256, 256)  # encoder; 64 -> 32 -> 16 -> 8 -> 4 -> 2
CELEBA_DECODER_WIDTHS = (256, 256, 128, 64, 32)  # 2 -> 4 -> 8 -> 16 -> 32, then 64 in the output layer


def celeba_encoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, 3, 64, 64) -> (N, 2L)."""
    specs = [(_C, c_in, c_out, 4, 2, 1) for c_in, c_out in zip((3,) + CELEBA_WIDTHS[:-1], CELEBA_WIDTHS)]
    return nn.Sequential(*_conv_layers(specs, lambda: nn.LeakyReLU(slope), batch_norm=True), nn.Flatten(),
                         nn.Linear(1024, 2 * latent_dim))


def _upsample_block(c_in: int, c_out: int) -> list[nn.Module]:
    """x2 nearest upsampling, replication pad 1, 3x3 conv: the spatial size doubles."""
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReplicationPad2d(1), nn.Conv2d(c_in, c_out, 3)]


def celeba_decoder(latent_dim: int, slope: float) -> nn.Module:
    """(N, L) -> (N, 3, 64, 64)."""
    layers: list[nn.Module] = [nn.Linear(latent_dim, 1024), nn.LeakyReLU(slope), nn.Unflatten(1, (256, 2, 2))]
    for c_in, c_out in zip(CELEBA_DECODER_WIDTHS[:-1], CELEBA_DECODER_WIDTHS[1:]):
        layers += [*_upsample_block(c_in, c_out), nn.BatchNorm2d(c_out, eps=1e-3), nn.LeakyReLU(slope)]
    return nn.Sequential(*layers, *_upsample_block(CELEBA_DECODER_WIDTHS[-1], 3))


# ------------------------------------------------------------------------------------------------------ registry

@dataclass(frozen=True)
class Architecture:
    """One data set's networks: data shape (without the batch axis), the default latent size L, the paper's batch
    size (App. C; two moons: not stated, 100 chosen like MNIST) and the encoder/decoder builders."""

    data_shape: tuple[int, ...]
    latent_dim: int
    batch_size: int
    encoder: NetworkBuilder
    decoder: NetworkBuilder


ARCHITECTURES: dict[str, Architecture] = {
    "moons": Architecture((2,), 2, 100, moons_encoder, moons_decoder),
    "mnist": Architecture((1, 28, 28), 2, 100, mnist_encoder, mnist_decoder),
    "fmnist": Architecture((1, 28, 28), 2, 100, mnist_encoder, mnist_decoder),
    "svhn": Architecture((3, 32, 32), 16, 50, svhn_encoder, svhn_decoder),
    "celeba": Architecture((3, 64, 64), 32, 50, celeba_encoder, celeba_decoder),
}


# dpVAE's prior names -> the registered priors (``core.priors.registry``): N(0, I) and the decoupled (flow) prior.
PRIORS: dict[str, str] = {"standard": "standard_gaussian", "decoupled": "decoupled"}


def _prior(name: str, latent_dim: int, blocks: int, hidden: int, generators: list[torch.Generator]) -> Prior:
    """A prior of len(generators) runs, each initialised from its generator."""
    return build_prior(PRIORS[name], PriorRequest(latent_dim, generators, flow_blocks=blocks, flow_hidden=hidden))


# ---------------------------------------------------------------------------------------------------------- model

class DpVAE(nn.Module):
    """Gaussian encoder q(z|x) = N(mu, diag exp(logvar)), decoder mean x_hat(z), and the prior p(z), a ``Prior`` as
    S-IntroVAE's: N(0, I) (``StandardGaussianPrior``) or the decoupled prior N(g(z); 0, I) |det dg/dz|
    (``DecoupledPrior``, paper Eq. 7, a run-stacked flow), trained jointly with the VAE.

    One run (``build_dpvae``) maps x (N, ...) and z (N, L) with plain networks and a prior of one run; a stack of R
    runs (``stack_dpvae``) maps (R, N, ...) and (R, N, L) with ``RunStack`` networks and a prior of R runs. A stack
    of one has the single run's state dict, so a run of a stack is saved and loaded as a single run."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, prior: Prior):
        super().__init__()
        self.encoder, self.decoder, self.latent_dim, self.prior = encoder, decoder, latent_dim, prior

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, *data_shape) -> mu, logvar (N, L); a stack: (R, N, *data_shape) -> (R, N, L)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, L) -> x_hat (N, *data_shape), the mean of p(x|z); a stack: (R, N, L) -> (R, N, *data_shape)."""
        return self.decoder(z)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Also reads a checkpoint written while the flow was the model's ``flow`` (keys ``flow.*``), N(0, I) had no
        module (no ``prior.*`` keys: the standard prior's constant buffers are kept), or a single run's flow had
        ``nn.Linear`` layers (weight (out, in), bias (out,); now one run of ``StackedLinear``, (1, in, out) and
        (1, 1, out), the same map)."""
        state = {"prior." + key[len("flow."):] if key.startswith("flow.") else key: value
                 for key, value in state_dict.items()}
        own = self.state_dict()
        for key, value in state.items():
            if key.startswith("prior.") and key in own and own[key].dim() == 3 and value.dim() < 3:
                state[key] = value.t().unsqueeze(0) if value.dim() == 2 else value.view(1, 1, -1)
        if isinstance(self.prior, StandardGaussianPrior):
            for name, buffer in self.prior.named_buffers(prefix="prior"):
                state.setdefault(name, buffer)
        return super().load_state_dict(state, strict, assign)

    def prior_distribution(self) -> PriorDistribution:
        """p(z) with its current parameters, a ``PriorDistribution`` of the model's runs (z is (R, N, L))."""
        return self.prior.distribution(self.encoder)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generation (paper Sec. 4.2) by one run: z0 ~ N(0, I), z = g^-1(z0), x_hat(z); (n, *data_shape)."""
        z0 = torch.randn(1, n, self.latent_dim, generator=generator, device=self.device)
        return self.decode(self.prior_distribution().from_generation_space(z0).squeeze(0))


def build_dpvae(dataset: str, latent_dim: int, prior: str = "standard", flow_blocks: int = 6, flow_hidden: int = 64,
                leaky_slope: float = LEAKY_SLOPE) -> DpVAE:
    """One run: the data set's networks around the named prior (``PRIORS``, one run); PyTorch default
    initialisation from the global RNG (the flow from a generator seeded by a draw of it after the networks), so
    seed or fork it before calling."""
    if dataset not in ARCHITECTURES or prior not in PRIORS:
        raise ValueError(f"unknown dataset {dataset!r} or prior {prior!r}; datasets {sorted(ARCHITECTURES)}, "
                         f"priors {sorted(PRIORS)}")
    arch = ARCHITECTURES[dataset]
    encoder, decoder = arch.encoder(latent_dim, leaky_slope), arch.decoder(latent_dim, leaky_slope)
    flow_generator = torch.Generator().manual_seed(int(torch.randint(2 ** 62, ())))
    return DpVAE(encoder, decoder, latent_dim, _prior(prior, latent_dim, flow_blocks, flow_hidden, [flow_generator]))


def stack_dpvae(runs: list[DpVAE], prior: str, flow_blocks: int, flow_hidden: int) -> DpVAE:
    """R single runs of one configuration (``build_dpvae``) in one model: run r of the stack computes ``runs[r]``
    (``models.run_stack``); the prior is a run-stacked prior holding the runs' priors."""
    parameter = next(runs[0].parameters())
    with torch.random.fork_rng(devices=[]):  # the stacked prior's own initialisation is overwritten
        stacked_prior = _prior(prior, runs[0].latent_dim, flow_blocks, flow_hidden,
                               [torch.Generator() for _ in runs]).to(parameter.device, parameter.dtype)
    stacked_prior.load_state_dict(stack_states(stacked_prior.state_dict(), [run.prior.state_dict() for run in runs]))
    return DpVAE(RunStack.from_runs([run.encoder for run in runs]), RunStack.from_runs([run.decoder for run in runs]),
                 runs[0].latent_dim, stacked_prior).train(runs[0].training)
