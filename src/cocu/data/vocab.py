"""Concept vocabulary and concept extraction from captions.

File format: one concept per line, comma-separated names, the first one canonical
(``dog, puppy, kuvasz``); ``#`` starts a comment; multi-word names are allowed
(``race car``). A name may belong to one concept only.

Matching (:meth:`Vocabulary.extract`): the caption is lower-cased and split into words
on anything that is not a letter or digit (so punctuation, hyphens and case do not
matter), then scanned left to right; at each word the longest vocabulary n-gram
(n ≤ 4) starting there wins and the scan continues after it. A vocabulary n-gram also
matches its plural — the plural forms inflect gives for the name, and any caption word
inflect singularises to a vocabulary word (``cows`` → ``cow``, ``people`` → ``person``).
A literal match always beats a singularised one, so words inflect mangles (``bus`` →
``bu``, ``glasses`` → ``glass``) keep their meaning when they are vocabulary names.

Two extraction semantics (``extraction=``):

* ``"longest"`` (the default): the scan above; "a greeting card" names *greeting card*
  only, and a neighbour names a concept when the concept is in its extracted set.
* ``"official"`` (the CoCu code's): every vocabulary n-gram (n ≤ 4) of the caption is kept,
  in order of its first word (shorter first), so "a greeting card" names *greeting card*
  and *card*; and in curation a neighbour names a concept when the concept's name is a
  substring of the neighbour's concept names joined by ", " (``substring_closure``), so a
  neighbour with *greeting card* also counts as a reference image of *car*.

The default is ``longest`` because the official substring test makes ``man`` a reference of
"woman" and ``car`` of "card", and nested n-grams double-count one object ("card" in every
"greeting card"); ``official`` exists to reproduce the paper's archives.

``Vocabulary.from_gallery`` reads the official gallery JSON (``{"concept": [...]}``), one
concept per entry; plurals are matched as for any vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import inflect

from cocu.errors import CocuError

log = logging.getLogger(__name__)

MAX_NGRAM = 4
EXTRACTIONS = ("longest", "official")
_WORD = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"['’]s\b")


def normalize(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text`` with punctuation removed."""
    return tuple(_WORD.findall(_POSSESSIVE.sub("", text.lower())))


@lru_cache(maxsize=1)
def _engine() -> inflect.engine:
    return inflect.engine()


class Vocabulary:
    """Concepts (canonical names, id = index) with synonyms, and caption → concept-id extraction."""

    def __init__(self, groups: Iterable[Iterable[str]], source: str = "<memory>",
                 extraction: str = "longest") -> None:
        if extraction not in EXTRACTIONS:
            raise CocuError(f"extraction must be one of {EXTRACTIONS}, got {extraction!r}")
        self.source = source
        self.extraction = extraction
        self._names: list[list[str]] = []
        self._literal: dict[tuple[str, ...], int] = {}
        for line_no, group in enumerate(groups, 1):
            names = [" ".join(normalize(n)) for n in group]
            names = [n for n in names if n]
            if not names:
                continue
            cid = len(self._names)
            for n in names:
                words = tuple(n.split())
                if len(words) > MAX_NGRAM:
                    raise CocuError(f"{source}: concept name {n!r} has more than {MAX_NGRAM} words")
                if words in self._literal and self._literal[words] != cid:
                    raise CocuError(f"{source}: name {n!r} (entry {line_no}) already belongs to concept "
                                    f"{self._names[self._literal[words]][0]!r}")
                self._literal[words] = cid
            self._names.append(list(dict.fromkeys(names)))
        if not self._names:
            raise CocuError(f"{source}: the vocabulary has no concepts")
        self._build_index()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_file(cls, path: str | Path, extraction: str = "longest") -> Vocabulary:
        """Read a vocabulary file (format in the module docstring), or an official gallery
        ``.json`` (``from_gallery``)."""
        path = Path(path)
        if not path.is_file():
            raise CocuError(f"vocabulary file {path} does not exist")
        if path.suffix.lower() == ".json":
            return cls.from_gallery(path, extraction)
        return cls.from_text(path.read_text(encoding="utf-8"), source=str(path), extraction=extraction)

    @classmethod
    def from_text(cls, text: str, source: str = "<text>", extraction: str = "longest") -> Vocabulary:
        """Parse vocabulary file content."""
        groups = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                groups.append([n.strip() for n in line.split(",") if n.strip()])
        return cls(groups, source=source, extraction=extraction)

    @classmethod
    def from_gallery(cls, path: str | Path, extraction: str = "longest") -> Vocabulary:
        """The official CoCu gallery JSON, ``{"concept": ["person", "greeting card", ...]}``:
        one concept per entry, in file order (exact repeats are dropped; an entry equal to
        another's plural stays its own concept, since a literal match beats a plural)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CocuError(f"cannot read gallery {path}: {exc}") from exc
        names = data.get("concept") if isinstance(data, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise CocuError(f'{path}: a gallery is {{"concept": [name, ...]}}')
        seen: set[str] = set()
        groups = []
        for n in names:
            key = " ".join(normalize(n))
            if key and key not in seen:
                seen.add(key)
                groups.append([n])
        return cls(groups, source=str(path), extraction=extraction)

    @classmethod
    def default(cls, extraction: str = "longest") -> Vocabulary:
        """The vocabulary shipped with the package (benchmark classes, common objects and stuff)."""
        v = _default_vocab()
        return v if extraction == "longest" else v.with_extraction(extraction)

    def with_extraction(self, extraction: str) -> Vocabulary:
        """The same concepts with another extraction semantics."""
        return Vocabulary(self._names, source=self.source, extraction=extraction)

    # ---------------------------------------------------------------- accessors
    @property
    def concepts(self) -> list[str]:
        """Canonical names; the index is the concept id."""
        return [n[0] for n in self._names]

    def synonyms(self, cid: int) -> list[str]:
        """All names of concept ``cid``, canonical first."""
        return list(self._names[cid])

    def index(self, name: str) -> int:
        """Concept id of a name (any synonym, singular or plural); CocuError if unknown."""
        words = normalize(name)
        cid = self._lookup(words) if words else None
        if cid is None:
            raise CocuError(f"{name!r} is not in vocabulary {self.source}")
        return cid

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: str) -> bool:
        return normalize(name) in self._literal

    def write(self, path: str | Path) -> None:
        """Write in the vocabulary file format (atomically)."""
        from cocu.utils.io import atomic_open

        with atomic_open(path, "w", encoding="utf-8") as fh:
            fh.write("".join(", ".join(n) + "\n" for n in self._names))

    # --------------------------------------------------------------- extraction
    def _build_index(self) -> None:
        eng = _engine()
        self._plural: dict[tuple[str, ...], int] = {}
        for words, cid in self._literal.items():
            name = " ".join(words)
            forms = {eng.plural_noun(name) or "", name + "s", name + "es"}
            for form in forms:
                w = tuple(form.split())
                if w and w not in self._literal:
                    self._plural.setdefault(w, cid)
        self._last_words = {w[-1] for w in self._literal}
        # first word -> longest n-gram length starting with it (literal or plural forms)
        self._first: dict[str, int] = {}
        for w in list(self._literal) + list(self._plural):
            self._first[w[0]] = max(self._first.get(w[0], 0), len(w))
        self._singular_cache: dict[str, str | None] = {}

    def _singular(self, word: str) -> str | None:
        """inflect's singular of ``word`` when it is a vocabulary word, else None (cached)."""
        try:
            return self._singular_cache[word]
        except KeyError:
            pass
        s = None
        if len(word) > 2 and not word.isdigit():
            cand = _engine().singular_noun(word)
            if cand and cand != word and cand in self._last_words:
                s = cand
        self._singular_cache[word] = s
        return s

    def _lookup(self, words: tuple[str, ...]) -> int | None:
        cid = self._literal.get(words)
        if cid is None:
            cid = self._plural.get(words)
        if cid is None:
            sing = self._singular(words[-1])
            if sing is not None:
                cid = self._literal.get(words[:-1] + (sing,))
        return cid

    def extract(self, caption: str) -> list[int]:
        """Concept ids named in ``caption`` (per ``self.extraction``), order of appearance,
        no duplicates."""
        if self.extraction == "official":
            return self._extract_all(caption)
        words = normalize(caption)
        n = len(words)
        found: list[int] = []
        i = 0
        first = self._first
        while i < n:
            w = words[i]
            longest = first.get(w, 0)
            if longest == 0:
                sing = self._singular(w)
                if sing is None or sing not in first:
                    i += 1
                    continue
                longest = 1
            matched = 0
            for k in range(min(longest, n - i), 0, -1):
                cid = self._lookup(words[i:i + k])
                if cid is not None:
                    if cid not in found:
                        found.append(cid)
                    matched = k
                    break
            i += matched or 1
        return found

    def _extract_all(self, caption: str) -> list[int]:
        """Every vocabulary n-gram (n ≤ 4), by start word, shorter first (official semantics)."""
        words = normalize(caption)
        found: dict[int, None] = {}
        for i in range(len(words)):
            for k in range(1, min(MAX_NGRAM, len(words) - i) + 1):
                cid = self._lookup(words[i:i + k])
                if cid is not None:
                    found.setdefault(cid)
        return list(found)

    def substring_closure(self) -> list[list[int]]:
        """Per concept a, the concepts whose canonical name is a substring of a's (a first).

        A neighbour whose extracted concepts are S names, under the official test
        ``name in ", ".join(S)``, exactly the union of the closures of S (names hold no
        ", ", so no name spans two of them).
        """
        names = self.concepts
        return [[a] + [b for b, nb in enumerate(names) if b != a and nb in na] for a, na in enumerate(names)]

    def extract_names(self, caption: str) -> list[str]:
        """Canonical names of :meth:`extract`."""
        return [self._names[c][0] for c in self.extract(caption)]


@lru_cache(maxsize=1)
def _default_vocab() -> Vocabulary:
    text = resources.files("cocu.data").joinpath("vocab_default.txt").read_text(encoding="utf-8")
    return Vocabulary.from_text(text, source="cocu/data/vocab_default.txt")


def vocab_hash(vocab: Vocabulary, extraction: str | None = None) -> str:
    """The 16-hex-digit hash recorded in ``embed.json`` and curation manifests: the concepts
    and synonyms in id order, and the extraction semantics (``extraction``, default the
    vocabulary's own) when it is not ``longest``."""
    groups = [list(vocab.synonyms(i)) for i in range(len(vocab))]
    mode = extraction or getattr(vocab, "extraction", "longest")
    payload = groups if mode == "longest" else {"extraction": mode, "groups": groups}
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def find_vocabulary(path: str | Path | None = None, *, data: str | Path | None = None) -> Path | None:
    """The vocabulary file a command uses (None: the packaged one): ``path`` (``--vocab FILE``)
    when given; else ``data/vocab.txt`` or ``vocab.txt`` in the folder holding ``data`` (the
    command's input: a folder — ``cocu synth`` writes ``vocab.txt`` beside ``train/`` —, a
    shard, a glob or brace pattern)."""
    if path:
        return Path(path)
    if data:
        root = Path(data)
        for cand in (root / "vocab.txt", root.parent / "vocab.txt"):
            if cand.is_file():
                log.info("vocabulary: %s (found beside %s)", cand, data)
                return cand
    return None


def resolve_vocabulary(path: str | Path | None = None, *, data: str | Path | None = None,
                       extraction: str = "longest") -> Vocabulary:
    """The vocabulary of :func:`find_vocabulary`, else :meth:`Vocabulary.default`."""
    found = find_vocabulary(path, data=data)
    return Vocabulary.from_file(found, extraction) if found else Vocabulary.default(extraction)


def substring_concepts(caption: str, vocab: Vocabulary) -> list[int]:
    """The official CoCu membership test (``name in caption``, substring), for comparison only."""
    low = caption.lower()
    return [cid for cid in range(len(vocab)) if any(n in low for n in vocab.synonyms(cid))]
