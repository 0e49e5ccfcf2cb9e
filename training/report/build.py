"""Write a version's report into its staging folder and list the files for the manifest.

The figures (``training.report.figures``) and the model card (``training.report.card``) are
made from the run's history, the test split, the logits before and after calibration, and the
manifest; each file is listed with its sha256, media type and a title.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from training.data.splits import Split
from training.loop import History
from training.metrics import reliability
from training.report import figures
from training.report.card import model_card
from training.robustness import CONDITIONS, TRAINED_KINDS
from training.tasks.spec import Task

GALLERY_SIZE = 16
MEDIA_TYPES = {".png": "image/png", ".md": "text/markdown"}


def _confusion(task: Task, logits: np.ndarray, y: np.ndarray, path: Path) -> None:
    decided = task.kind.decisions(logits, task.threshold)
    figures.confusion_matrix(y, decided, task.labels, path, task.name)


def _roc(task: Task, logits: np.ndarray, y: np.ndarray, path: Path) -> None:
    figures.roc_curve(y, logits.reshape(-1), task.labels[1], path, task.name)


def _per_label(task: Task, logits: np.ndarray, y: np.ndarray, path: Path) -> None:
    decided = task.kind.decisions(logits, task.threshold)
    figures.per_label(y, decided, task.labels, path, task.name)


# Each kind's diagnostic figure (the kind names its file and title: `Kind.diagnostic`).
DIAGNOSTICS = {"multiclass": _confusion, "binary": _roc, "multilabel": _per_label}


@dataclass(frozen=True)
class ReportInputs:
    history: History
    best_epoch: int
    test: Split
    logits_before: np.ndarray  # test logits before the temperature was folded in
    logits_after: np.ndarray  # test logits of the exported graph
    model: nn.Module


def write_report(
    folder: Path, task: Task, manifest: dict[str, Any], inputs: ReportInputs
) -> list[dict[str, str]]:
    """Every report file of one version, written into ``folder``; their manifest entries."""
    written: list[tuple[str, str]] = []
    name, history, test = task.name, inputs.history, inputs.test

    figures.learning_curve(
        history.train_loss,
        history.val_loss,
        history.val_metric,
        history.metric,
        inputs.best_epoch,
        folder / "learning_curve.png",
        name,
        augmented=manifest["training"]["config"]["augment"] != "none",
    )
    written.append(("learning_curve.png", "loss and validation metric per epoch"))

    diagnostic, title = task.kind.diagnostic
    _draw_diagnostic(task, inputs.logits_after, test.y, folder / diagnostic)
    written.append((diagnostic, title))

    _mistakes(task, inputs, folder / "mistakes.png")
    written.append(("mistakes.png", f"the {GALLERY_SIZE} most confident test mistakes"))

    curves, ece = {}, {}
    calibration = manifest["calibration"]
    for label, logits in (("before", inputs.logits_before), ("after", inputs.logits_after)):
        bins = reliability(*task.kind.calibration_pairs(logits, test.y))
        key = f"{label} (T={calibration['temperature']:.2f})" if label == "after" else label
        curves[key] = (bins.confidence, bins.frequency, bins.count)
        ece[key] = bins.ece
    figures.reliability_diagram(curves, ece, folder / "reliability.png", name)
    written.append(("reliability.png", "reliability diagram before and after calibration"))

    if manifest.get("robustness"):
        goals = task.goals
        figures.robustness_bars(
            manifest["robustness"]["accuracy"],
            goals.per_condition if goals else None,
            folder / "robustness.png",
            name,
            unseen=set(CONDITIONS) - set(TRAINED_KINDS),
        )
        written.append(("robustness.png", "test accuracy per upload condition"))

    (folder / "README.md").write_text(
        model_card(task, manifest, inputs.model, [f for f, _ in written]), encoding="utf-8"
    )
    written.insert(0, ("README.md", "model card"))
    return [
        {
            "file": file,
            "media_type": MEDIA_TYPES[Path(file).suffix],
            "sha256": hashlib.sha256((folder / file).read_bytes()).hexdigest(),
            "title": title,
        }
        for file, title in written
    ]


def _mistakes(task: Task, inputs: ReportInputs, path: Path) -> None:
    test, labels = inputs.test, task.labels
    worst = task.kind.mistakes(inputs.logits_after, test.y, task.threshold, labels)
    worst = worst[:GALLERY_SIZE]
    title = f"{task.name}: the most confident mistakes on the test split"
    if task.input.image is not None:
        images = test.x[[w.row for w in worst]].reshape(-1, *task.input.image)
        captions = [f"true {w.true}\nsaid {w.predicted} ({w.probability:.0%} sure)" for w in worst]
        figures.mistakes_gallery(images, captions, path, title)
        return
    features = task.input.features or ()
    header = [f"{f.name}\n({f.unit})" for f in features] + ["true", "said", "p(said)"]
    rows = [
        [f"{v:.4g}" for v in test.x[w.row]] + [w.true, w.predicted, f"{w.probability:.2f}"]
        for w in worst
    ]
    figures.mistakes_table(header, rows, path, title)


def _draw_diagnostic(task: Task, logits: np.ndarray, y: np.ndarray, path: Path) -> None:
    DIAGNOSTICS[task.kind.name](task, logits, y, path)
