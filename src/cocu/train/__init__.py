"""Training: the GroupViT training loop, prompt sources, checkpoints, distributed helpers."""
