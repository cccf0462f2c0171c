"""The training engine every study runs on: the resumable interval loop, checkpoints, divergence, CUDA-graph
capture, and the Soft-IntroVAE players the 2D and image studies share."""
