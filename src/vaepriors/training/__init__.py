"""Training: typed configurations, per-run randomness and the vectorised trainers."""
