"""Training: the GroupViT training loop, prompt sources, checkpoints, distributed helpers.

Public API: ``TrainConfig``, ``make_config``, ``train`` → ``TrainResult``; prompt sources
``CaptionPrompts``, ``OraclePrompts``, ``CuratedPrompts`` (the curation seam: reads the
sidecars of ``cocu.data.sidecar``) and ``SampleTexts`` (a sample → its 1 + K texts).
"""

from cocu.train.config import TrainConfig, make_config
from cocu.train.loop import TrainResult, train
from cocu.train.prompts import CaptionPrompts, CuratedPrompts, OraclePrompts, PromptSource, SampleTexts

__all__ = ["CaptionPrompts", "CuratedPrompts", "OraclePrompts", "PromptSource", "SampleTexts", "TrainConfig",
           "TrainResult", "make_config", "train"]
