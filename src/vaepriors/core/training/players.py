"""One S-IntroVAE iteration for any model and data: the players, their optimisers and who is updated when.

Each player's loss is differentiated with respect to that player's parameters only (``torch.autograd.grad``), so the
encoder step never leaves gradients on the decoder and vice versa (the authors zero them instead).
"""

from __future__ import annotations

import torch

from vaepriors.core.losses.soft_intro import SoftIntroObjective
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.training.capture import StepGraphs
from vaepriors.core.training.engine import IntervalTrainer
from vaepriors.core.vae import StackedVAE

Optimizers = dict[str, torch.optim.Optimizer]


def build_optimizers(model: StackedVAE, lr: float, capturable: bool = False) -> Optimizers:
    """Adam per player; a prior without trainable parameters (standard Gaussian) gets none. ``capturable``: Adam
    that runs inside a CUDA graph, with a tensor learning rate (``training.capture``)."""
    players = {"encoder": list(model.encoder.parameters()), "decoder": list(model.decoder.parameters()),
               "prior": model.prior.trainable_parameters()}
    device = next(model.parameters()).device
    rate = (lambda: torch.tensor(lr, device=device)) if capturable else (lambda: lr)
    return {name: torch.optim.Adam(params, lr=rate(), capturable=capturable)
            for name, params in players.items() if params}


def update(loss: torch.Tensor, optimizers: Optimizers, players: tuple[str, ...]) -> None:
    chosen = [optimizers[name] for name in players if name in optimizers]
    params = [p for opt in chosen for group in opt.param_groups for p in group["params"]]
    grads = torch.autograd.grad(loss.sum(), params, allow_unused=True)
    for param, grad in zip(params, grads):
        param.grad = grad
    for opt in chosen:
        opt.step()


def soft_intro_step(model: StackedVAE, objective: SoftIntroObjective, x: torch.Tensor, rnd: RunRandomness,
                    optimizers: Optimizers, adversarial: bool, intro_prior: bool) -> dict[str, torch.Tensor]:
    """A warm-up ELBO step (E, D and P) or an encoder step followed by a decoder(+prior with IP) step."""
    if not adversarial:
        loss, terms = objective.elbo(model, x, rnd)
        update(loss, optimizers, ("encoder", "decoder", "prior"))
        return _detached({"loss": loss, **terms})
    loss_e, terms_e, real = objective.encoder(model, x, rnd)
    update(loss_e, optimizers, ("encoder",))
    loss_d, terms_d = objective.decoder(model, x, real, rnd, prior_player=intro_prior)
    update(loss_d, optimizers, ("decoder", "prior") if intro_prior else ("decoder",))
    return _detached({"loss_encoder": loss_e, "loss_decoder": loss_d, **{f"d_{k}": v for k, v in terms_d.items()},
                      **{f"e_{k}": v for k, v in terms_e.items()}})


def _detached(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The step's terms without their autograd graphs: a term that kept its graph would keep the step's activations
    alive into the next step (and, on a GPU, its gradient nodes on the stream that made them, which CUDA-graph
    capture on another stream warns about)."""
    return {name: value.detach() for name, value in terms.items()}


class SoftIntroTrainer(IntervalTrainer):
    """What the 2D and the image trainer share on top of the engine: a stacked VAE with its prior, one Adam per
    player, the VAMP -> MoG conversion (new optimisers, as the authors), the CUDA-graph replay of the step
    (``training.capture``) and the state of all of these. Subclasses set ``model`` and call ``init_players``."""

    model: StackedVAE

    def init_players(self, lr: float, vamp_to_mog_weights: str, capture: bool) -> None:
        self.lr, self.vamp_to_mog_weights = lr, vamp_to_mog_weights
        self.graphs, self.capturable = StepGraphs(capture), capture
        self.optimizers = build_optimizers(self.model, lr, capture)

    def convert_to_mog(self) -> None:
        self.model.convert_vamp_to_mog(self.vamp_to_mog_weights)
        self.model.prior.to(self.device)
        self.optimizers = build_optimizers(self.model, self.lr, self.capturable)
        self.graphs.invalidate()

    def player_state(self) -> dict:
        return {"prior": type(self.model.prior).__name__, "model": self.model.state_dict(),
                "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()}}

    def load_player_state(self, state: dict) -> None:
        """The model (converted to a MoG first if the state's prior is one) and the optimisers of ``state``."""
        if state["prior"] != type(self.model.prior).__name__:
            self.convert_to_mog()
        self.model.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.graphs.invalidate()
