"""Evaluate a trained batch of 2D runs once, at the end of training (reference §6).

Every run draws its evaluation data from its own stream (seeded with seed + iterations - 1, as the authors re-seed
before evaluating), so a run's metrics do not depend on the other runs of its batch.
"""

from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F

from vaepriors.core.losses.kl import kl_monte_carlo
from vaepriors.core.losses.reconstruction import squared_error
from vaepriors.core.randomness import RunRandomness
from vaepriors.studies.toy2d import metrics
from vaepriors.studies.toy2d.config import ToyEvalConfig
from vaepriors.studies.toy2d.data import HALF_WIDTH, get_sampler
from vaepriors.studies.toy2d.trainer import ToyRuns


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


class ToyEvaluator:
    def __init__(self, runs: ToyRuns, config: ToyEvalConfig):
        self.runs, self.cfg = runs, config
        self.model = runs.model.eval()
        self.device = next(self.model.parameters()).device
        seeds = [run.seed + runs.config.iterations - 1 for run in runs.config.runs]
        self.rnd = RunRandomness(seeds, self.device)
        self.sampler = get_sampler(runs.config.dataset)
        self.half_width = HALF_WIDTH[runs.config.dataset]
        self.prior = self.model.prior_params().detach()

    def real(self, n: int) -> torch.Tensor:
        return self.sampler(n, self.rnd)

    def generate(self, n: int) -> torch.Tensor:
        return self.model.decode(self.prior.sample(n, self.rnd))

    def nelbo(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """||x - D(mu_x)||^2 + KL_MC(q(z|x) || p) with one eps (R, S, d) shared by all points (reference §6.4)."""
        budget = self.cfg.gpu_chunk_elements if self.device.type == "cuda" else self.cfg.chunk_elements
        chunk = max(1, budget // (x.shape[0] * eps.shape[1] * self.prior.n_components))
        values = []
        for part in x.split(chunk, dim=1):
            mu, logvar = self.model.encode(part)
            logvar = logvar.clamp(min=-80.0)
            kl = kl_monte_carlo(mu, logvar, self.prior, eps.unsqueeze(1)).per_sample
            values.append(squared_error(part, self.model.decode(mu)) + kl)
        return torch.cat(values, dim=1)

    def grid(self) -> torch.Tensor:
        """G x G points, row-major in y then x (row i has y_i), as (R, G*G, 2)."""
        axis = torch.linspace(-self.half_width, self.half_width, self.cfg.grid_size, device=self.device)
        ys, xs = torch.meshgrid(axis, axis, indexing="ij")
        points = torch.stack([xs.flatten(), ys.flatten()], dim=1)
        return points.unsqueeze(0).expand(len(self.rnd), -1, -1)

    @torch.no_grad()
    def evaluate(self) -> tuple[list[dict], dict[str, np.ndarray]]:
        cfg, n = self.cfg, self.cfg.hist_samples
        kl_real, kl_fake, jsd_real, jsd_fake = self.real(n), self.generate(n), self.real(n), self.generate(n)
        eps = self.rnd.normal(cfg.mc_samples, self.prior.dim)
        data = self.real(cfg.gnelbo_batches * cfg.gnelbo_batch_size)
        nelbo_grid, nelbo_data = self.nelbo(self.grid(), eps), self.nelbo(data, eps)
        rows = [self._row(run, *(t[run].cpu().double().numpy() for t in
                                 (kl_real, kl_fake, jsd_real, jsd_fake, nelbo_grid, nelbo_data)))
                for run in range(len(self.rnd))]
        return rows, self._samples(nelbo_grid)

    def _row(self, run, kl_real, kl_fake, jsd_real, jsd_fake, nelbo_grid, nelbo_data) -> dict:
        spec, h, bins = self.runs.config.runs[run], self.half_width, self.cfg.bins
        row = {"dataset": self.runs.config.dataset, "configuration": self.runs.config.configuration, "run": run,
               "seed": spec.seed, "beta_rec": spec.beta_rec, "beta_kl": spec.beta_kl, "beta_neg": spec.beta_neg,
               "kl": self.runs.config.kl, "diverged_at": self.runs.diverged_at[run],
               "diverged_reason": self.runs.reasons[run], "grid_size": self.cfg.grid_size}
        finite = all(np.isfinite(a).all() for a in (kl_fake, jsd_fake, nelbo_grid, nelbo_data))
        values = {
            "gnelbo_paper": lambda: metrics.gnelbo_paper(nelbo_grid, nelbo_data),
            "kl_paper": lambda: metrics.histogram_kl_paper(kl_real, kl_fake, h, bins),
            "jsd_paper": lambda: metrics.histogram_jsd_paper(jsd_real, jsd_fake, h, bins),
            "kl_mass": lambda: metrics.histogram_kl_mass(kl_real, kl_fake, h, bins),
            "jsd": lambda: metrics.histogram_jsd(jsd_real, jsd_fake, h, bins),
            "log_likelihood_grid": lambda: metrics.grid_log_likelihood(nelbo_grid, nelbo_data, h),
        }
        row.update({name: compute() if finite and row["diverged_at"] is None else float("nan")
                    for name, compute in values.items()})
        return row

    def _samples(self, nelbo_grid: torch.Tensor) -> dict[str, np.ndarray]:
        cfg, g = self.cfg, self.cfg.grid_size
        prior_mu, prior_weight = self.prior.component_means()
        log_density = -nelbo_grid - torch.logsumexp(-nelbo_grid, dim=1, keepdim=True)
        density = log_density.exp().view(-1, 1, g, g) * (g - 1) ** 2 / (2 * self.half_width) ** 2
        density = F.adaptive_avg_pool2d(density, cfg.figure_grid).squeeze(1)
        return {"real": _numpy(self.real(cfg.figure_samples)[0]), "fake": _numpy(self.generate(cfg.figure_samples)),
                "density": _numpy(density), "half_width": np.array(self.half_width),
                "seeds": np.array([r.seed for r in self.runs.config.runs]), "run": np.arange(len(self.rnd)),
                "diverged": np.array([at is not None for at in self.runs.diverged_at]),
                "prior_mu": _numpy(prior_mu), "prior_weight": _numpy(prior_weight),
                "dataset": np.array(self.runs.config.dataset), "configuration": np.array(self.runs.config.configuration)}
