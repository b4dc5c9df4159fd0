"""The training regimes compared in the paper's ablation (appendix Tab. 2) plus the oracle.

| model    | modules      | prompts                                              |
|----------|--------------|------------------------------------------------------|
| baseline | —            | nouns (vocabulary concepts) of the image's own caption |
| #1       | ① ③ ⑤        | language-driven expansion, naive ranking, plain top-k |
| #2       | ② ③ ⑤        | vision-driven expansion, naive ranking, plain top-k   |
| #3       | ② ④ ⑤        | vision-driven, text-to-vision-guided ranking, plain   |
| #4       | ② ④ ⑥        | the full CoCu: vision, t2v ranking, cluster sampling  |
| oracle   | —            | every true class of the image (the ceiling)           |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cocu.errors import CocuError


@dataclass(frozen=True)
class Regime:
    """One way of choosing the K extra prompts of every training image."""

    name: str
    description: str
    prompts: str                    # caption | oracle | curated (cocu.train prompt sources)
    expansion: str | None = None    # vision | language (curated only)
    ranking: str | None = None      # naive | t2v
    sampling: str = "plain"         # plain | cluster
    neighbours: int = 8             # N

    @property
    def curated(self) -> bool:
        return self.prompts == "curated"

    @property
    def curation_key(self) -> str:
        """Folder name of the curation this regime trains on (clusters are always computed)."""
        return f"{self.expansion}-{self.ranking}-n{self.neighbours}"

    @property
    def run_key(self) -> str:
        """Folder-safe identifier of what is trained (the same for ``cocu`` and ``#4``)."""
        if self.curated:
            return f"{self.expansion}-{self.ranking}-{self.sampling}-n{self.neighbours}"
        return self.prompts

    def with_neighbours(self, n: int) -> Regime:
        return dataclasses.replace(self, neighbours=n)


REGIMES: dict[str, Regime] = {
    "baseline": Regime("baseline", "GroupViT: prompts from the caption's own concepts", "caption"),
    "#1": Regime("#1", "①③⑤ language expansion, naive ranking, plain sampling", "curated",
                 "language", "naive", "plain"),
    "#2": Regime("#2", "②③⑤ vision expansion, naive ranking, plain sampling", "curated",
                 "vision", "naive", "plain"),
    "#3": Regime("#3", "②④⑤ vision expansion, t2v ranking, plain sampling", "curated",
                 "vision", "t2v", "plain"),
    "#4": Regime("#4", "②④⑥ CoCu: vision expansion, t2v ranking, cluster sampling", "curated",
                 "vision", "t2v", "cluster"),
    "oracle": Regime("oracle", "every true class of the image as a prompt (ceiling)", "oracle"),
}
REGIMES["cocu"] = dataclasses.replace(REGIMES["#4"], name="cocu")


def get_regime(name: str) -> Regime:
    """Regime by name (``baseline``, ``#1``…``#4``, ``cocu``, ``oracle``)."""
    try:
        return REGIMES[name]
    except KeyError:
        raise CocuError(f"unknown regime {name!r}; known: {', '.join(REGIMES)}") from None
