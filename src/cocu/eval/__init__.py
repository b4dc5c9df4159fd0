"""Evaluation: zero-shot segmentation, benchmark loaders and mmseg-identical metrics."""
