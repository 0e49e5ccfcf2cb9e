"""Task kinds as policies: each kind's activation, class probabilities, threshold and
decision, and the manifest checks that come from the same policy."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from modelrepo.manifest import Manifest
from service.protocol.task_policies import TASKS, top_k
from tests.builders import image_manifest

LABELS = ["a", "b", "c"]


def test_every_kind_is_listed_under_its_own_name() -> None:
    assert {name: policy.name for name, policy in TASKS.items()} == {
        "multiclass": "multiclass",
        "binary": "binary",
        "multilabel": "multilabel",
    }


def test_multiclass_takes_softmax_lists_every_class_and_decides_by_the_most_probable() -> None:
    policy = TASKS["multiclass"]
    probs = policy.activate(np.array([[1.0, 3.0, 2.0]], np.float32))
    assert np.allclose(probs.sum(), 1) and policy.classes(3) == 3
    assert policy.default_threshold(0.7) is None and not policy.thresholded
    assert policy.decide(probs[0].tolist(), 1, LABELS, None) == ("b", None)


def test_binary_lists_both_classes_and_decides_by_the_threshold() -> None:
    policy = TASKS["binary"]
    probs = policy.activate(np.array([[0.0], [2.0]], np.float32))
    per_class = policy.class_probabilities(probs)
    assert per_class.shape == (2, 2) and np.allclose(per_class.sum(axis=1), 1)
    assert policy.classes(1) == 2
    assert policy.default_threshold(None) == 0.5 and policy.default_threshold(0.3) == 0.3
    labels = ["no", "yes"]
    assert policy.decide([0.4, 0.6], 1, labels, 0.5) == ("yes", None)
    assert policy.decide([0.4, 0.6], 1, labels, 0.7) == ("no", None)
    assert policy.decide([0.5, 0.5], 0, labels, 0.5) == ("yes", None)  # at the threshold


def test_multilabel_chooses_every_label_over_the_threshold_and_no_single_one() -> None:
    policy = TASKS["multilabel"]
    probs = policy.activate(np.array([[3.0, -3.0, 0.5]], np.float32))
    assert probs.shape == (1, 3) and policy.class_probabilities(probs) is probs
    assert policy.decide(probs[0].tolist(), 0, LABELS, 0.5) == (None, ["a", "c"])
    assert policy.decide(probs[0].tolist(), 0, LABELS, 0.99) == (None, [])


def test_top_k_ranks_the_classes_and_keeps_ties_in_label_order() -> None:
    indices, scores = top_k(np.array([[0.2, 0.4, 0.4]]), 2)
    assert indices.tolist() == [[1, 2]] and scores.tolist() == [[0.4, 0.4]]
    assert top_k(np.array([[0.2, 0.8]]), 5)[0].tolist() == [[1, 0]]  # clamped to the classes


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"task": "regression"}, "the task must be one of multiclass, binary, multilabel"),
        ({"task": "multilabel"}, "a multilabel model's activation must be sigmoid"),
        ({"labels": ["only-one"]}, "labels must name every output column"),
    ],
)
def test_a_manifest_is_checked_by_its_kinds_policy(change: dict[str, object], words: str) -> None:
    manifest = {**image_manifest("mnist", 1), "model_sha256": "0" * 64, **change}
    with pytest.raises(ValidationError, match=words):
        Manifest.model_validate(manifest)


def test_a_binary_manifest_needs_one_logit_and_two_labels() -> None:
    manifest = {
        **image_manifest("mnist", 1),
        "model_sha256": "0" * 64,
        "task": "binary",
        "output": {
            "name": "logits",
            "datatype": "FP32",
            "shape": [-1, 10],
            "activation": "sigmoid",
        },
    }
    with pytest.raises(
        ValidationError, match=r"a binary model has output \[-1, 1\] and two labels"
    ):
        Manifest.model_validate(manifest)
