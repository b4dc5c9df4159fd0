"""Shared pytest fixtures (tiny data made by the tests themselves)."""

import torch

torch.set_num_threads(2)
