"""Experiments: the demo, the ablation and the N sweep."""
