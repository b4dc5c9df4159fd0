"""Training: the GroupViT training loop, prompt sources, checkpoints, distributed helpers.

Public API: ``TrainConfig``, ``make_config``, ``train`` → ``TrainResult``; prompt sources
``CaptionConcepts``, ``TrueConcepts``, ``CuratedConcepts`` (the curation seam).
"""

from cocu.train.config import TrainConfig, make_config
from cocu.train.loop import TrainResult, train
from cocu.train.prompts import CaptionConcepts, CuratedConcepts, PromptSource, TrueConcepts

__all__ = ["CaptionConcepts", "CuratedConcepts", "PromptSource", "TrainConfig", "TrainResult", "TrueConcepts",
           "make_config", "train"]
