"""What a model's task kind means at serving time, one policy per kind.

The manifest's `task` names a kind (its activation and output shape are the contract's:
modelrepo/manifest.py's `TASK_KINDS`); its policy says how the logits become probabilities,
how many class probabilities a prediction lists, whether a decision threshold applies (and
its default), and how a row of probabilities becomes a decision. A model looks its policy up
once, when it loads (`LoadedModel.task`); nothing else switches on the kind's name, so a new
kind is one more policy here (and one in the contract's table).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from service.protocol.activations import sigmoid, softmax

# A decision for one row: (the label, or None; every label chosen, or None).
Decision = tuple[str | None, list[str] | None]


class TaskPolicy(ABC):
    """One kind's behaviour: the defaults below, which each kind overrides where it differs."""

    name: str
    thresholded = False  # whether a decision threshold applies

    def activate(self, logits: np.ndarray) -> np.ndarray:
        """Logits to probabilities, the whole batch at once."""
        return sigmoid(logits)

    def classes(self, width: int) -> int:
        """How many class probabilities a prediction lists, for logits `width` wide."""
        return width

    def class_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """One column per label."""
        return probabilities

    def column_labels(self, labels: Sequence[str]) -> Sequence[str]:
        """The label of each column of the model's output (Triton's classification)."""
        return labels

    def default_threshold(self, declared: float | None) -> float | None:
        if not self.thresholded:
            return None
        return declared if declared is not None else 0.5

    @abstractmethod
    def decide(
        self, row: Sequence[float], best: int, labels: Sequence[str], threshold: float | None
    ) -> Decision:
        """The decision for one row of class probabilities, `best` the most probable class."""


class Multiclass(TaskPolicy):
    name = "multiclass"

    def activate(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits)

    def decide(
        self, row: Sequence[float], best: int, labels: Sequence[str], threshold: float | None
    ) -> Decision:
        return labels[best], None


class Binary(TaskPolicy):
    """One logit, the positive class's; its probabilities are listed as [1 - p, p]."""

    name = "binary"
    thresholded = True

    def classes(self, width: int) -> int:
        return 2

    def class_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        return np.column_stack([1.0 - probabilities[:, 0], probabilities[:, 0]])

    def column_labels(self, labels: Sequence[str]) -> Sequence[str]:
        """The one column is the positive class's."""
        return labels[1:]

    def decide(
        self, row: Sequence[float], best: int, labels: Sequence[str], threshold: float | None
    ) -> Decision:
        assert threshold is not None
        return (labels[1] if row[1] >= threshold else labels[0]), None


class Multilabel(TaskPolicy):
    """Independent labels: every one over the threshold is chosen, none is "the" label."""

    name = "multilabel"
    thresholded = True

    def decide(
        self, row: Sequence[float], best: int, labels: Sequence[str], threshold: float | None
    ) -> Decision:
        assert threshold is not None
        return None, [label for label, p in zip(labels, row) if p >= threshold]


TASKS: dict[str, TaskPolicy] = {p.name: p for p in (Multiclass(), Binary(), Multilabel())}


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest scores per row (probabilities, or logits): (indices, scores), largest
    first."""
    k = max(1, min(k, scores.shape[1]))
    # A stable sort keeps ties in label order, so equal scores come out predictably.
    indices = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return indices, scores[np.arange(len(indices))[:, None], indices]
