"""Datasets: the 2D density benchmark generators (and, later, image datasets)."""
