"""Image datasets: fetching (torchvision or local files), checksums, and the verified uint8 dataset file."""
