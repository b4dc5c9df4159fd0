"""cocu: language-supervised semantic segmentation (GroupViT + CoCu concept curation)."""

__version__ = "0.1.0"
