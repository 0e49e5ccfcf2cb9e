"""Why a model answered (`?explain=true`), without any transport: occlusion maps of images
that point at the ink, signed sensitivities of tabular features, and the cost bounded whatever
the model: a fixed number of copies per instance, in one batched call, off the event loop."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelrepo.manifest import Manifest
from service.errors import InvalidInput
from service.handlers import explanations
from service.handlers.dataplane import DataPlane
from service.metrics.prometheus import Metrics
from service.runtime.batching import BatchOptions
from service.runtime.loaded_model import LoadedModel, ModelLoader
from service.runtime.sessions import Runtime
from service.serving.registry import Registry
from tests.builders import image_manifest, publish, slow_mlp

ROOT = Path(__file__).resolve().parents[3]
SEVEN = np.array(json.loads((ROOT / "docs/examples/mnist-7.json").read_text())["instances"][0])


def plane(root: Path, executor: ThreadPoolExecutor | None = None) -> DataPlane:
    batching = BatchOptions(
        executor=executor,
        enabled=True,
        max_batch_rows=256,
        max_wait_s=0.0,
        inline_s=0.0,
        others_in_flight=lambda: False,
    )
    metrics = Metrics()
    loader = ModelLoader(Runtime(["CPUExecutionProvider"], 1), 10**8, batching, metrics)
    registry = Registry(root, loader, metrics.set_models)
    asyncio.run(registry.refresh())
    return DataPlane(registry, max_instances=64)


@pytest.fixture(scope="module")
def shipped(shipped_models: Path) -> DataPlane:
    return plane(shipped_models)


def explain(plane: DataPlane, name: str, rows: np.ndarray) -> list[dict[str, Any]]:
    model = plane.model(name)

    async def run() -> list[dict[str, Any]]:
        scored = await plane.score(model, rows)
        probabilities = model.task.class_probabilities(scored.probabilities)
        return await explanations.explain(model, rows, probabilities)

    return asyncio.run(run())


@pytest.mark.parametrize("name", ["mnist", "mnist-cnn"])
def test_the_ink_of_a_drawn_seven_is_what_makes_it_a_seven(shipped: DataPlane, name: str) -> None:
    model = shipped.model(name)
    rows = SEVEN.astype(np.uint8).reshape(1, *model.manifest.input.row_shape)
    [explained] = explain(shipped, name, rows)
    assert explained["method"] == "occlusion" and explained["label"] == "7"
    heat = np.array(explained["attributions"])
    assert heat.shape == (28, 28)
    assert explained["input"] == SEVEN.reshape(28, 28).tolist()  # what the model read
    ink = SEVEN.reshape(28, 28) > 100
    # Blanking the strokes lowers the seven's probability; blanking the empty field does not.
    assert heat[ink].mean() > 10 * max(abs(heat[~ink].mean()), 1e-3)
    hottest = np.argsort(heat.ravel())[-40:]
    near_ink = np.zeros((28, 28), bool)
    for dy in (-2, -1, 0, 1, 2):
        for dx in (-2, -1, 0, 1, 2):
            near_ink |= np.roll(np.roll(ink, dy, 0), dx, 1)
    assert near_ink.ravel()[hottest].all()


def test_the_occlusion_map_is_the_probability_drop_of_each_blanked_patch(
    shipped: DataPlane,
) -> None:
    """Checked against the definition, by running the blanked copies one at a time."""
    model = shipped.model("mnist")
    image = SEVEN.astype(np.uint8).reshape(28, 28)
    [explained] = explain(shipped, "mnist", image.reshape(1, 784))
    side = explained["patch"]
    assert side == 4
    corners, _ = explanations._patches(28, 28)

    def p7(picture: np.ndarray) -> float:
        logits = model.session.run(picture.reshape(1, 784))
        e = np.exp(logits - logits.max())
        return float((e / e.sum())[0, 7])

    drop = np.zeros((28, 28))
    cover = np.zeros((28, 28))
    for y, x in corners:
        blanked = image.copy()
        blanked[y : y + side, x : x + side] = 0
        drop[y : y + side, x : x + side] += p7(image) - p7(blanked)
        cover[y : y + side, x : x + side] += 1
    assert np.allclose(explained["attributions"], drop / cover, atol=2e-4)


def test_tabular_features_get_signed_sensitivities(shipped: DataPlane) -> None:
    row = np.array([[19.5, 4, 12, 8]], np.float32)  # price, shipping, marketing, quality
    [explained] = explain(shipped, "tshirt", row)
    assert explained["method"] == "sensitivity" and explained["label"] == "top seller"
    a = explained["attributions"]
    assert list(a) == ["price", "shipping_cost", "marketing", "material_quality"]
    # A dearer or costlier-to-ship shirt sells less; more marketing or a better one, more.
    assert a["price"] < 0 and a["shipping_cost"] < 0
    assert a["marketing"] > 0 and a["material_quality"] > 0
    model = shipped.model("tshirt")

    def p(values: list[float]) -> float:
        z = model.session.run(np.array([values], np.float32))[0, 0]
        return float(1 / (1 + np.exp(-z)))

    quality = (p([19.5, 4, 12, 8.8]) - p([19.5, 4, 12, 7.2])) / 2  # 10 % either way
    assert a["material_quality"] == pytest.approx(quality, abs=1e-4)


def test_a_binary_models_other_class_is_explained_with_its_own_signs(shipped: DataPlane) -> None:
    [explained] = explain(shipped, "tshirt", np.array([[45, 9, 1, 3]], np.float32))
    assert explained["label"] == "not top seller"
    [shirt] = explain(shipped, "tshirt", np.array([[19.5, 4, 12, 8]], np.float32))
    assert shirt["label"] == "top seller"


def test_an_image_is_explained_with_one_batched_call_of_at_most_256_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight images with ink everywhere, so that no patch can be skipped: the worst case."""
    root = tmp_path / "models"
    publish(root, slow_mlp(layers=1, width=8), image_manifest("inked", 1, 28, 28))
    data_plane = plane(root)
    calls: list[int] = []
    original = LoadedModel.infer

    async def counted(self: LoadedModel, rows: np.ndarray) -> Any:
        calls.append(len(rows))
        return await original(self, rows)

    monkeypatch.setattr(LoadedModel, "infer", counted)
    inked = np.full((8, 784), 255, np.uint8)
    explained = explain(data_plane, "inked", inked)
    assert len(explained) == 8
    assert calls[0] == 8 and len(calls) == 2  # the prediction, then every copy at once
    copies, _ = explanations._patches(28, 28)
    assert calls[1] == 8 * len(copies) <= 8 * explanations.MAX_OCCLUSIONS


@pytest.mark.parametrize(("height", "width"), [(28, 84), (64, 512), (1, 4096), (300, 300)])
def test_larger_canvases_get_a_coarser_grid_never_more_copies(height: int, width: int) -> None:
    corners, side = explanations._patches(height, width)
    assert 1 <= len(corners) <= explanations.MAX_OCCLUSIONS
    covered = np.zeros((height, width), bool)
    for y, x in corners:
        covered[y : y + side, x : x + side] = True
    assert covered.all()  # every pixel gets an attribution


def manifest(height: int, width: int, datatype: str = "UINT8") -> Manifest:
    document = image_manifest("big", 1, height, width) | {"model_sha256": "0" * 64}
    document["input"]["datatype"] = datatype
    return Manifest.model_validate(document)


def test_explaining_more_than_it_may_cost_is_refused_before_any_work() -> None:
    with pytest.raises(InvalidInput, match="at most 8 instances per request; got 9"):
        explanations.check(manifest(28, 28), 9)
    explanations.check(manifest(28, 28), 8)
    # 2048 x 2048 float pixels: 16 MiB a copy, over the 64 MiB a request may take.
    with pytest.raises(InvalidInput, match="more than 64 MiB of perturbed input"):
        explanations.check(manifest(256, 256, "FP32"), 8)
    # The map (and the input beside it) in the answer: at most 256 x 256.
    with pytest.raises(InvalidInput, match="maps of up to 65536 pixels"):
        explanations.check(manifest(2048, 2048), 1)


def test_explaining_keeps_the_event_loop_free(tmp_path: Path) -> None:
    """The copies run on the inference thread, through the batcher, as any request's rows:
    while a slow model explains an image, the loop goes on ticking."""
    root = tmp_path / "models"
    publish(root, slow_mlp(layers=24, width=512), image_manifest("slow", 1))
    with ThreadPoolExecutor(1) as executor:
        data_plane = plane(root, executor)
        model = data_plane.model("slow")
        rows = np.full((4, 784), 200, np.uint8)

        async def run() -> tuple[int, float]:
            scored = await data_plane.score(model, rows)
            probabilities = model.task.class_probabilities(scored.probabilities)
            ticks = 0
            done = asyncio.Event()

            async def tick() -> None:
                nonlocal ticks
                while not done.is_set():
                    await asyncio.sleep(0.001)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            started = time.perf_counter()
            await explanations.explain(model, rows, probabilities)
            elapsed = time.perf_counter() - started
            done.set()
            await ticker
            return ticks, elapsed

        ticks, elapsed = asyncio.run(run())
    assert elapsed > 0.05  # long enough that a blocked loop would show
    assert ticks >= 10, (ticks, elapsed)


@pytest.mark.parametrize(
    ("picture", "blank"),
    [
        (np.zeros((28, 28)), True),
        (np.full((28, 28), 255.0), True),  # white paper
        (np.where(np.arange(784).reshape(28, 28) == 300, 255.0, 0.0), True),  # one speck
        (np.random.default_rng(0).normal(128, 8, (200, 200)), True),  # lit paper, no ink
        (SEVEN.reshape(28, 28).astype(float), False),
        (255.0 - SEVEN.reshape(28, 28), False),  # the same, dark on light
    ],
    ids=["black", "white", "speck", "paper", "seven", "seven-on-paper"],
)
def test_blank_and_near_blank_images_are_told_apart_from_digits(
    picture: np.ndarray, blank: bool
) -> None:
    assert explanations.looks_blank(picture) is blank
