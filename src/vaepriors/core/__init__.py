"""The core: everything the three studies share and nothing that knows any of them.

Layers, each importing only those before it (tests/test_imports.py checks this): atomic, randomness, gpu_slots and
command_line (leaves) -> data (image datasets) and nets (networks with a run axis) -> priors -> vae -> losses ->
training (the engine) -> evaluation (metrics) -> reporting (statistics, LaTeX, figure helpers). docs/architecture.md
draws the picture.
"""
