"""cocu: language-supervised semantic segmentation (GroupViT + CoCu concept curation)."""

import os as _os

# Reproducibility: with MKL's dynamic threading on (its default), MKL may run a GEMM on fewer
# threads than asked when the machine is busy (e.g. while DataLoader workers decode), which changes
# the summation order and makes two same-seed runs differ in the last bits. Pinning it makes
# same-seed runs identical at any fixed thread count. Set before torch loads MKL; a value the
# user exported wins.
_os.environ.setdefault("MKL_DYNAMIC", "FALSE")

__version__ = "0.1.0"
