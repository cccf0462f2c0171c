"""Metrics that know no study: FID (Inception or an offline classifier), precision/recall, latent probes, t-SNE."""
