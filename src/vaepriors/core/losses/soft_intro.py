"""The three S-IntroVAE objectives with a learnable prior (paper Eq. 52; reference §4.3-4.5), per run.

Every function returns a loss of shape (R,) and a dict of named terms (R,) for logging; the trainer differentiates
the sum over runs with respect to the parameters of the player it updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaepriors.core.losses.gaussian import reparameterize
from vaepriors.core.losses.kl import KLEstimator
from vaepriors.core.losses.reconstruction import squared_error
from vaepriors.core.losses.responsibility import normalised_negative_entropy
from vaepriors.core.priors import PriorDistribution, Randomness
from vaepriors.core.vae import StackedVAE

Terms = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SoftIntroWeights:
    """beta_* are (R,) tensors (one value per run); r_entropy is a scalar or an (R,) tensor (a stack sweeping it);
    the rest are shared scalars."""

    beta_rec: torch.Tensor
    beta_kl: torch.Tensor
    beta_neg: torch.Tensor
    alpha: float = 2.0
    gamma: float = 1.0
    gamma_r: float = 1e-8
    scale: float = 0.5
    r_entropy: float | torch.Tensor = 0.0


@dataclass(frozen=True)
class RealPosterior:
    """What the decoder step reuses from the encoder step: the real batch's posterior and its sample."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


class SoftIntroObjective:
    """``track_entropy`` logs the responsibility entropy term even when r_entropy = 0 (the image figures plot it)."""

    def __init__(self, weights: SoftIntroWeights, kl: KLEstimator, track_entropy: bool = False):
        self.w = weights
        self.kl = kl
        self.track_entropy = track_entropy
        # read once here, not in every step: does any run weight the entropy term?
        self.weights_entropy = bool(torch.as_tensor(weights.r_entropy).gt(0).any())

    def _encode_sample(self, model: StackedVAE, x: torch.Tensor, rnd: Randomness):
        mu, logvar = model.encode(x)
        return mu, logvar, reparameterize(mu, logvar, rnd.normal(*mu.shape[1:]))

    def elbo(self, model: StackedVAE, x: torch.Tensor, rnd: Randomness) -> tuple[torch.Tensor, Terms]:
        """VAE warm-up: beta_rec * SSE + beta_kl * KL, no scale s (reference §4.5); trains E, D and P."""
        mu, logvar, z = self._encode_sample(model, x, rnd)
        rec_error = squared_error(x, model.decode(z)).mean(-1)
        kl = self.kl(mu, logvar, model.prior_params(), rnd).per_sample.mean(-1)
        return self.w.beta_rec * rec_error + self.w.beta_kl * kl, {"rec": rec_error, "kl": kl}

    def encoder(self, model: StackedVAE, x: torch.Tensor, rnd: Randomness):
        """L_E (reference §4.3): real ELBO, exp-ELBO of detached fakes and reconstructions, entropy term."""
        w, batch = self.w, x.shape[1]
        prior = model.prior_params()
        with torch.no_grad():
            fake = model.decode(prior.sample(batch, rnd))
        mu, logvar, z = self._encode_sample(model, x, rnd)
        rec = model.decode(z)
        entropy = self.weights_entropy or (self.track_entropy and prior.n_components > 1)
        real_kl = self.kl(mu, logvar, prior, rnd, responsibilities=entropy)
        neg = {name: self.exp_elbo(model, generated, prior, rnd).mean(-1)
               for name, generated in (("fake", fake), ("rec", rec))}
        rec_error, kl = squared_error(x, rec).mean(-1), real_kl.per_sample.mean(-1)
        loss = w.scale * (w.beta_rec * rec_error + w.beta_kl * kl) + 0.5 / w.alpha * (neg["fake"] + neg["rec"])
        terms = {"rec": rec_error, "kl": kl, "exp_elbo_fake": neg["fake"], "exp_elbo_rec": neg["rec"]}
        if entropy:
            terms["neg_entropy"] = normalised_negative_entropy(real_kl.mean_responsibility)
        if self.weights_entropy:
            loss = loss + w.scale * w.r_entropy * terms["neg_entropy"]
        return loss, terms, RealPosterior(mu.detach(), logvar.detach(), z.detach())

    def exp_elbo(self, model: StackedVAE, generated: torch.Tensor, prior: PriorDistribution,
                 rnd: Randomness) -> torch.Tensor:
        """exp(-alpha s (beta_rec RE + beta_neg KL)) per generated image (R, B): the encoder's repulsion term.

        The images are encoded detached, so no gradient reaches whatever produced them; RE is taken against the
        non-detached images (the reference's quirk, §4.3), so a reconstruction used as a fake still sends a gradient
        to the encoder through its target. Takes any images, so a study can fix the generated set (Fig. 5)."""
        w = self.w
        g_mu, g_logvar, g_z = self._encode_sample(model, generated.detach(), rnd)
        g_error = squared_error(generated, model.decode(g_z))
        g_kl = self.kl(g_mu, g_logvar, prior, rnd).per_sample
        return torch.exp(-w.alpha * w.scale * (w.beta_rec[:, None] * g_error + w.beta_neg[:, None] * g_kl))

    def decoder(self, model: StackedVAE, x: torch.Tensor, real: RealPosterior, rnd: Randomness,
                prior_player: bool) -> tuple[torch.Tensor, Terms]:
        """L_D (+ L_P with IP; reference §4.4): the prior is a detached *target* for fake and reconstructed
        posteriors, a trainable target of the detached real posterior, and a reparameterised *source* of fakes."""
        w = self.w
        prior = model.prior_params() if prior_player else model.prior_params().detach()
        fake = model.decode(prior.sample(x.shape[1], rnd))
        rec = model.decode(real.z)
        kls, cycle_errors = [], []
        for generated in (rec, fake):
            g_mu, g_logvar, g_z = self._encode_sample(model, generated, rnd)
            cycle_errors.append(squared_error(generated.detach(), model.decode(g_z.detach())).mean(-1))
            kls.append(self.kl(g_mu, g_logvar, prior.detach(), rnd).per_sample.mean(-1))
        rec_error = squared_error(x, rec).mean(-1)
        loss = w.beta_rec * rec_error + w.gamma * w.beta_kl * (kls[0] + kls[1]) / 2
        loss = loss + w.gamma * w.gamma_r * w.beta_rec * (cycle_errors[0] + cycle_errors[1]) / 2
        terms = {"rec": rec_error, "kl_rec": kls[0], "kl_fake": kls[1]}
        if prior_player:
            terms["kl_prior"] = self.kl(real.mu, real.logvar, prior, rnd).per_sample.mean(-1)
            loss = loss + w.beta_kl * terms["kl_prior"]
        return w.scale * loss, terms
