"""The benchmark abstraction: a list of (image, label) files plus the metric settings.

Images are read like mmseg's ``LoadImageFromFile`` (colour, EXIF orientation applied as OpenCV's
``IMREAD_COLOR`` does, returned RGB uint8 ``[H,W,3]``); labels like ``LoadAnnotations`` with the
pillow backend (``np.array`` of the PNG: palette indices for 'P' images).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cocu.errors import DataLayoutError


@dataclass(frozen=True)
class SegSample:
    """One evaluation pair: the image file and its ground-truth label file."""

    key: str
    image: Path
    label: Path


@dataclass(frozen=True)
class SegBenchmark:
    """A semantic-segmentation split and how to score it.

    ``classes`` are the metric's classes (index = label value after ``reduce_zero_label``);
    ``background`` is True when ``classes[0] == 'background'`` is predicted by thresholding.
    ``protocol`` names the preset in :mod:`cocu.eval.protocol`.
    """

    name: str
    root: Path
    classes: tuple[str, ...]
    samples: tuple[SegSample, ...]
    ignore_index: int = 255
    reduce_zero_label: bool = False
    protocol: str = ""
    label_decoder: Callable[[Image.Image], np.ndarray] | None = field(default=None, compare=False)
    image_loader: Callable[[Path], np.ndarray] | None = field(default=None, compare=False)
    # ImageNet-S: large images are downsampled, predictions scaled back to the label's size;
    # everywhere else a label of another size than its image is a layout error
    resize_prediction: bool = False

    @property
    def background(self) -> bool:
        return self.classes[0] == "background"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def prompt_classes(self) -> tuple[str, ...]:
        """The names turned into text prompts (background excluded: it comes from the threshold)."""
        return self.classes[1:] if self.background else self.classes

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, n: int | None) -> SegBenchmark:
        """The first ``n`` samples (in the split's order); ``None`` keeps all."""
        if n is None:
            return self
        if n < 1:
            raise DataLayoutError(f"--subset must be >= 1, got {n}")
        return replace(self, samples=self.samples[:n])

    def load_image(self, sample: SegSample) -> np.ndarray:
        """RGB uint8 ``[H,W,3]``."""
        if self.image_loader is not None:
            return self.image_loader(sample.image)
        return read_image(sample.image)

    def load_label(self, sample: SegSample) -> np.ndarray:
        """Raw label map ``[H,W]`` (integer; ``reduce_zero_label`` is applied by the metric)."""
        try:
            with Image.open(sample.label) as im:
                if self.label_decoder is not None:
                    return self.label_decoder(im)
                arr = np.array(im)
        except (OSError, SyntaxError, ValueError) as exc:  # PIL: truncated/corrupt PNG
            raise DataLayoutError(f"cannot read label {sample.label}: {exc}") from exc
        if arr.ndim != 2:
            raise DataLayoutError(f"label {sample.label} has shape {arr.shape}; expected a "
                                  "single-channel (or palette) PNG")
        return arr

    def check_files(self) -> None:
        """Before evaluating: every image and label opens, and (unless ``resize_prediction``)
        each label has its image's size (EXIF rotation counted). Reads headers only."""
        for s in self.samples:
            image_size = _header_size(s.image, "image", exif=True)
            label_size = _header_size(s.label, "label", exif=False)
            if not self.resize_prediction and image_size != label_size:
                raise DataLayoutError(f"label {s.label} is {label_size[0]}x{label_size[1]} but its image "
                                      f"{s.image} is {image_size[0]}x{image_size[1]} (width x height)")

    def __iter__(self) -> Iterator[tuple[SegSample, np.ndarray, np.ndarray]]:
        for s in self.samples:
            yield s, self.load_image(s), self.load_label(s)


def read_image(path: Path) -> np.ndarray:
    """Read an image as RGB uint8 ``[H,W,3]`` with EXIF orientation applied (like cv2.imread)."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:  # PIL: truncated/corrupt file
        raise DataLayoutError(f"cannot read image {path}: {exc}") from exc


def _header_size(path: Path, what: str, *, exif: bool) -> tuple[int, int]:
    """(width, height) from the file header; EXIF orientations 5-8 swap the sides."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if exif and im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                w, h = h, w
            return w, h
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataLayoutError(f"cannot read {what} {path}: {exc}") from exc


# ---------------------------------------------------------------- layout helpers

def require_dir(path: Path, what: str) -> Path:
    """``path`` must be a folder, else a DataLayoutError naming it."""
    if not path.is_dir():
        raise DataLayoutError(f"{what}: folder not found: {path}")
    return path


def require_file(path: Path, what: str) -> Path:
    """``path`` must be a file, else a DataLayoutError naming it."""
    if not path.is_file():
        raise DataLayoutError(f"{what}: file not found: {path}")
    return path


def read_split(path: Path, what: str) -> list[str]:
    """Names listed one per line in an mmseg split file (blank lines skipped)."""
    require_file(path, what)
    names = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not names:
        raise DataLayoutError(f"{what}: split file is empty: {path}")
    return names


def pairs_from_split(root: Path, img_dir: Path, ann_dir: Path, names: Sequence[str], img_suffix: str,
                     seg_suffix: str, what: str) -> tuple[SegSample, ...]:
    """Samples ``img_dir/NAME{img_suffix}`` + ``ann_dir/NAME{seg_suffix}``, every file checked."""
    samples = [SegSample(n, img_dir / f"{n}{img_suffix}", ann_dir / f"{n}{seg_suffix}") for n in names]
    _check_exist(samples, what)
    return tuple(samples)


def pairs_from_scan(img_dir: Path, ann_dir: Path, img_suffix: str, seg_suffix: str,
                    what: str) -> tuple[SegSample, ...]:
    """mmseg ``CustomDataset`` without a split file: every ``*img_suffix`` under ``img_dir``
    (recursively), sorted by relative path, paired with ``ann_dir/<rel stem>{seg_suffix}``."""
    rels = sorted(p.relative_to(img_dir).as_posix() for p in img_dir.rglob(f"*{img_suffix}")
                  if p.is_file())
    if not rels:
        raise DataLayoutError(f"{what}: no '*{img_suffix}' images under {img_dir}")
    samples = []
    for rel in rels:
        stem = rel[: -len(img_suffix)]
        samples.append(SegSample(stem, img_dir / rel, ann_dir / f"{stem}{seg_suffix}"))
    _check_exist(samples, what)
    return tuple(samples)


def _check_exist(samples: Sequence[SegSample], what: str) -> None:
    missing_img = [s.image for s in samples if not s.image.is_file()]
    missing_lab = [s.label for s in samples if not s.label.is_file()]
    for kind, missing in (("image", missing_img), ("label", missing_lab)):
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DataLayoutError(f"{what}: {len(missing)} {kind} file(s) missing, e.g. {missing[0]}{more}")
