"""Sentiment of customer and news text: negative / neutral / positive for demand.

The contract every consumer codes against: a classifier maps texts to class probabilities in ``LABELS`` order.
The fine-tuned MiniLM classifier and the baselines it is measured beside all satisfy it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

__all__ = ["LABELS", "REGISTERED_MODEL", "SentimentClassifier"]

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
REGISTERED_MODEL = "trendcast-sentiment"


class SentimentClassifier(Protocol):
    """Anything that scores texts: ``predict_proba`` returns shape ``(len(texts), 3)`` in ``LABELS`` order."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...
