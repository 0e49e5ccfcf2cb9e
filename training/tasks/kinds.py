"""One policy per task kind: everything that differs between multiclass, binary and multilabel.

A task names its kind once (``Task.kind``); the loop, the metrics, the calibration, the report
and the manifest ask the policy instead of switching on a string. A new kind is a new class
here and nothing else.

- targets and loss: straight from logits (numerically stable; the graph stays logits-out);
- metrics and the primary one the learning curve and ``GET /v1/models`` show;
- probabilities and the decision as the service makes them (softmax / sigmoid >= threshold);
- calibration pairs: what "confidence" means for ECE and the reliability diagram;
- the worst mistakes for the report's gallery, and which diagnostic figure it gets (the report
  draws it: training/report/build.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from modelrepo.manifest import TASK_KINDS
from training import metrics as m

TaskKind = Literal["multiclass", "binary", "multilabel"]


@dataclass(frozen=True)
class Mistake:
    """One wrong test answer: its row, what was true, what was said, and how sure it was."""

    row: int
    true: str
    predicted: str
    probability: float


class Kind(ABC):
    """The base policy; the three kinds below fill in what differs."""

    name: ClassVar[TaskKind]
    activation: ClassVar[Literal["softmax", "sigmoid"]]
    primary_metric: ClassVar[str]
    uses_threshold: ClassVar[bool] = True
    # What the report plots for this kind besides the common figures.
    diagnostic: ClassVar[tuple[str, str]]

    def output_size(self, labels: Sequence[str]) -> int:
        return len(labels)

    def targets(self, y: np.ndarray) -> Tensor:
        return torch.from_numpy(y.astype(np.float32))

    def loss(self, label_smoothing: float = 0.0) -> Callable[[Tensor, Tensor], Tensor]:
        """BCE with logits; smoothing pulls every 0/1 target ``label_smoothing / 2`` inwards."""

        def bce(logits: Tensor, targets: Tensor) -> Tensor:
            if label_smoothing:
                targets = targets * (1 - label_smoothing) + label_smoothing / 2
            return F.binary_cross_entropy_with_logits(logits, targets)

        return bce

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return _sigmoid(logits)

    def decisions(self, logits: np.ndarray, threshold: float | None) -> np.ndarray:
        # sigmoid(z) >= t  <=>  z >= logit(t): decide on logits, no overflow for large |z|.
        t = 0.5 if threshold is None else threshold
        return (logits >= np.log(t / (1 - t))).astype(np.int64)

    @abstractmethod
    def metrics(self, logits: np.ndarray, y: np.ndarray, threshold: float | None) -> m.Metrics:
        """The kind's held-out metrics, by the names the manifest uses."""

    def calibration_pairs(self, logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(confidence, outcome): each probability the model states and whether it came true."""
        return self.probabilities(logits).reshape(-1), y.reshape(-1)

    @abstractmethod
    def mistakes(
        self, logits: np.ndarray, y: np.ndarray, threshold: float | None, labels: Sequence[str]
    ) -> list[Mistake]:
        """Every wrong answer, the most confident first."""


class Multiclass(Kind):
    name = "multiclass"
    activation = TASK_KINDS["multiclass"].activation
    primary_metric = "accuracy"
    uses_threshold = False
    diagnostic = ("confusion_matrix.png", "confusion matrix of the test split")

    def targets(self, y: np.ndarray) -> Tensor:
        return torch.from_numpy(y.astype(np.int64))

    def loss(self, label_smoothing: float = 0.0) -> Callable[[Tensor, Tensor], Tensor]:
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def decisions(self, logits: np.ndarray, threshold: float | None) -> np.ndarray:
        return logits.argmax(axis=1)

    def metrics(self, logits: np.ndarray, y: np.ndarray, threshold: float | None) -> m.Metrics:
        return {"accuracy": m.accuracy(y, self.decisions(logits, threshold))}

    def calibration_pairs(self, logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Top-label calibration: the confidence shown is the winning class's probability.
        probs = self.probabilities(logits)
        return probs.max(axis=1), (probs.argmax(axis=1) == y).astype(np.int64)

    def mistakes(
        self, logits: np.ndarray, y: np.ndarray, threshold: float | None, labels: Sequence[str]
    ) -> list[Mistake]:
        probs = self.probabilities(logits)
        predicted = probs.argmax(axis=1)
        wrong = np.flatnonzero(predicted != y)
        order = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]
        return [
            Mistake(int(i), labels[y[i]], labels[predicted[i]], float(probs[i, predicted[i]]))
            for i in order
        ]


class Binary(Kind):
    name = "binary"
    activation = TASK_KINDS["binary"].activation
    primary_metric = "accuracy"
    diagnostic = ("roc.png", "ROC curve of the test split")

    def output_size(self, labels: Sequence[str]) -> int:
        return 1  # one logit: the positive label's

    def targets(self, y: np.ndarray) -> Tensor:
        return torch.from_numpy(y.astype(np.float32).reshape(-1, 1))

    def metrics(self, logits: np.ndarray, y: np.ndarray, threshold: float | None) -> m.Metrics:
        predicted = self.decisions(logits, threshold).reshape(-1)
        return {
            "accuracy": m.accuracy(y, predicted),
            "precision": m.precision(y, predicted),
            "recall": m.recall(y, predicted),
            "roc_auc": m.roc_auc(y, logits.reshape(-1)),
        }

    def mistakes(
        self, logits: np.ndarray, y: np.ndarray, threshold: float | None, labels: Sequence[str]
    ) -> list[Mistake]:
        p = self.probabilities(logits).reshape(-1)
        predicted = self.decisions(logits, threshold).reshape(-1)
        shown = np.where(predicted == 1, p, 1 - p)  # the probability of the label it chose
        wrong = np.flatnonzero(predicted != y)
        order = wrong[np.argsort(-shown[wrong], kind="stable")]
        return [Mistake(int(i), labels[y[i]], labels[predicted[i]], float(shown[i])) for i in order]


class Multilabel(Kind):
    name = "multilabel"
    activation = TASK_KINDS["multilabel"].activation
    primary_metric = "micro_f1"
    diagnostic = ("per_label.png", "precision and recall per label on the test split")

    def metrics(self, logits: np.ndarray, y: np.ndarray, threshold: float | None) -> m.Metrics:
        predicted = self.decisions(logits, threshold)
        return {
            "micro_f1": m.micro_f1(y, predicted),
            "macro_f1": m.macro_f1(y, predicted),
            "exact_match": m.exact_match(y, predicted),
        }

    def mistakes(
        self, logits: np.ndarray, y: np.ndarray, threshold: float | None, labels: Sequence[str]
    ) -> list[Mistake]:
        p = self.probabilities(logits)
        predicted = self.decisions(logits, threshold)
        # How sure the worst wrong decision of a row was: p for a false yes, 1 - p for a false no.
        sureness = np.where(predicted != y, np.where(predicted == 1, p, 1 - p), 0.0).max(axis=1)
        wrong = np.flatnonzero((predicted != y).any(axis=1))
        order = wrong[np.argsort(-sureness[wrong], kind="stable")]

        def named(row: np.ndarray) -> str:
            return ",".join(labels[int(k)] for k in np.flatnonzero(row)) or "none"

        return [
            Mistake(int(i), named(y[i]), named(predicted[i]), float(sureness[i])) for i in order
        ]


MULTICLASS, BINARY, MULTILABEL = Multiclass(), Binary(), Multilabel()
KINDS: dict[str, Kind] = {k.name: k for k in (MULTICLASS, BINARY, MULTILABEL)}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Split by sign so exp never overflows.
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
