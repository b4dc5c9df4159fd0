"""Reading an embedding folder in clip-retrieval's layout.

``EMB_DIR/img_emb/<stem>.npy`` (float16, L2-normalised, [n, d]), ``EMB_DIR/text_emb/<stem>.npy``,
``EMB_DIR/metadata/<stem>.parquet`` (``key``, ``caption``, optional ``concept_ids``) and
``EMB_DIR/embed.json`` (model spec, dimension, vocabulary hash of ``concept_ids``).
A shard is complete when its metadata parquet exists (it is written last).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from cocu.curation.core import ConceptLists
from cocu.data.vocab import vocab_hash
from cocu.errors import CocuError

EMBED_INFO = "embed.json"
MODALITY_DIRS = {"img": "img_emb", "text": "text_emb"}


@dataclass
class EmbeddingStore:
    """The complete shards of an embedding folder, in sorted stem order (= index id order)."""

    root: Path
    stems: list[str]
    counts: list[int]
    info: dict

    @classmethod
    def open(cls, emb_dir: str | os.PathLike, modality: str = "img") -> EmbeddingStore:
        root = Path(emb_dir)
        meta = root / "metadata"
        if not meta.is_dir():
            raise CocuError(f"{root} is not an embedding folder (no metadata/); run `cocu embed` first")
        stems = sorted(p.stem for p in meta.glob("*.parquet") if not p.name.startswith("."))
        if not stems:
            raise CocuError(f"no embedded shards in {root}/metadata")
        sub = MODALITY_DIRS[modality]
        counts = []
        for s in stems:
            f = root / sub / f"{s}.npy"
            if not f.exists():
                raise CocuError(f"{f} is missing (embed with --captions for text embeddings)")
            counts.append(int(np.load(f, mmap_mode="r").shape[0]))
        info_path = root / EMBED_INFO
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        return cls(root, stems, counts, info)

    @property
    def offsets(self) -> np.ndarray:
        """int64 [n_shards + 1]: global id of each shard's first row."""
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    @property
    def total(self) -> int:
        return int(sum(self.counts))

    def embeddings(self, stem: str, modality: str = "img") -> np.ndarray:
        """[n, d] float16 memory-mapped embeddings of one shard."""
        return np.load(self.root / MODALITY_DIRS[modality] / f"{stem}.npy", mmap_mode="r")

    def metadata(self, stem: str, columns: list[str] | None = None):
        return pq.read_table(self.root / "metadata" / f"{stem}.parquet", columns=columns)

    def concept_lists(self, stem: str, vocab) -> ConceptLists:
        """Concept ids per sample: the stored ``concept_ids`` when they were extracted with
        this vocabulary, otherwise extracted now from the captions."""
        table = self.metadata(stem)
        if ("concept_ids" in table.column_names and vocab is not None
                and self.info.get("vocab_hash") == vocab_hash(vocab)):
            col = table.column("concept_ids").combine_chunks()
            offs = col.offsets.to_numpy().astype(np.int64)
            vals = col.values.to_numpy().astype(np.int32)
            return ConceptLists(offs - offs[0], vals[offs[0]:offs[-1]])
        if vocab is None:
            raise CocuError(f"{self.root}: concept ids need a vocabulary (--vocab)")
        return ConceptLists.from_lists([vocab.extract(c) for c in table.column("caption").to_pylist()])


def write_shard(emb_dir: str | os.PathLike, stem: str, img: np.ndarray, keys: list[str],
                captions: list[str], concept_ids: list | None = None,
                text: np.ndarray | None = None) -> None:
    """Write one shard in this layout from arrays (embeddings [n, d] are stored as float16;
    the metadata last, as ``cocu embed`` does). For fixtures and benchmarks."""
    import pyarrow as pa

    from cocu.utils.io import atomic_path

    root = Path(emb_dir)
    for arr, sub in ((img, "img_emb"), (text, "text_emb")):
        if arr is not None:
            with atomic_path(root / sub / f"{stem}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.asarray(arr, dtype=np.float16))
    cols = {"key": pa.array(keys, pa.string()), "caption": pa.array(captions, pa.string())}
    if concept_ids is not None:
        cols["concept_ids"] = pa.array([np.asarray(c).tolist() for c in concept_ids], pa.list_(pa.int32()))
    with atomic_path(root / "metadata" / f"{stem}.parquet") as tmp:
        pq.write_table(pa.table(cols), tmp)
