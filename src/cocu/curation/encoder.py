"""The curator's CLIP encoder: image and text embeddings from any open_clip ``CLIP``.

``load_clip(spec)`` returns a :class:`ClipEncoder` for our small-CLIP checkpoint (a ``.pt``
file, :mod:`cocu.curation.small_clip`), an open_clip architecture name (``ViT-B-16``) with a
local ``pretrained`` file or an already-cached tag — nothing is downloaded — or an open_clip
saved-model folder (``local-dir:DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cocu.errors import CocuError


def encode_text_trimmed(model, ids: torch.Tensor) -> torch.Tensor:
    """``model.encode_text(ids)`` [B, D] (not normalised), computed only up to the longest
    end-of-text token of the batch: exact for CLIP's causal text tower (a token never
    attends to later ones and the EOT feature is pooled), and ~4× cheaper for short captions."""
    from open_clip.model import CLIP

    if not isinstance(model, CLIP) or getattr(model, "text_pool_type", "argmax") != "argmax" \
            or model.attn_mask is None:
        return model.encode_text(ids)
    L = int(ids.argmax(dim=-1).max()) + 1
    x = model.token_embedding(ids[:, :L]) + model.positional_embedding[:L]
    x = model.transformer(x, attn_mask=model.attn_mask[:L, :L])
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0]), ids[:, :L].argmax(dim=-1)]
    proj = model.text_projection
    return proj(x) if isinstance(proj, torch.nn.Linear) else (x @ proj if proj is not None else x)


class ClipEncoder:
    """Image and text embeddings (float32, L2-normalised) from a CLIP model."""

    def __init__(self, model, preprocess, tokenizer, spec: str, device: str = "cpu",
                 batch_size: int = 256) -> None:
        self.model = model.eval().to(device)
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.spec = spec
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def encode_images(self, images) -> np.ndarray:
        """PIL images → [n, d] float32."""
        out = []
        for s in range(0, len(images), self.batch_size):
            x = torch.stack([self.preprocess(im) for im in images[s:s + self.batch_size]])
            out.append(F.normalize(self.model.encode_image(x.to(self.device)).float(), dim=-1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)

    @torch.no_grad()
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Texts → [n, d] float32."""
        out = []
        for s in range(0, len(texts), self.batch_size):
            ids = self.tokenizer(list(texts[s:s + self.batch_size])).to(self.device)
            out.append(F.normalize(encode_text_trimmed(self.model, ids).float(), dim=-1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)

    @property
    def dim(self) -> int:
        return int(self.model.text_projection.shape[1]) if hasattr(self.model, "text_projection") \
            and self.model.text_projection is not None else int(self.model.visual.output_dim)



def load_clip(spec: str, pretrained: str | None = None, device: str = "cpu") -> ClipEncoder:
    """Our small-CLIP checkpoint path, an open_clip name (``ViT-B-16``) with ``pretrained``
    a local weights file or a tag already in the local cache (never downloaded), or
    ``local-dir:DIR`` (a folder open_clip saved: ``open_clip_config.json`` + weights)."""
    import open_clip

    p = Path(spec)
    if p.is_file():
        from cocu.curation.small_clip import read_small_clip  # it imports this module

        model, preprocess = read_small_clip(p)
        return ClipEncoder(model, preprocess, open_clip.get_tokenizer("RN50"), str(p.resolve()), device)
    local_dir = spec.startswith("local-dir:")  # open_clip's saved-model folder (config + weights)
    if local_dir and not Path(spec[len("local-dir:"):], "open_clip_config.json").is_file():
        raise CocuError(f"{spec}: no open_clip_config.json in that folder")
    if not local_dir and spec not in open_clip.list_models():
        raise CocuError(f"--model {spec!r} is neither a checkpoint file nor an open_clip model name")
    if pretrained and not Path(pretrained).is_file():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a tag must already be cached
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(spec, pretrained=pretrained,
                                                                     device=device)
    except Exception as exc:  # noqa: BLE001 - download/IO failures surface as many types
        raise CocuError(f"cannot load open_clip {spec} with pretrained={pretrained!r} offline: {exc}") from exc
    return ClipEncoder(model, preprocess, open_clip.get_tokenizer(spec),
                       f"{spec}:{pretrained}" if pretrained else spec, device)
