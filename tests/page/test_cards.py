"""The page builds itself from `GET /v1/models`: a drawing pad for every canvas size the
served image models read, a form for every tabular model built from its features, and each
answer shows why (a heat map over what the model read, signed bars over the features). In
headless Chromium, with screenshots kept in build/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from service.commands import publishing
from tests.builders import course_dense_model, dense_graph
from tests.page.test_browser import SEVEN, draw, open_page, result, screenshot
from tests.servers import RunningServer, running

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def own_models_server(
    shipped_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The shipped models and two brought with `logitserve publish`: an 8x8 image model that
    takes float pixels, and a tabular one with three features."""
    root = tmp_path_factory.mktemp("own") / "models"
    shutil.copytree(shipped_models, root)
    work = root.parent
    rng = np.random.default_rng(5)
    eights = dense_graph(
        [rng.normal(0, 1, (64, 3))], [np.zeros(3)], input_type="FP32", row_shape=(8, 8)
    )
    (work / "eights.onnx").write_bytes(eights.SerializeToString())
    (work / "course.onnx").write_bytes(course_dense_model().SerializeToString())
    for request in (
        publishing.Request(
            work / "eights.onnx", "eights", "multiclass", ["a", "b", "c"], image=(8, 8)
        ),
        publishing.Request(
            work / "course.onnx", "course", "multilabel", ["p", "q", "r"], features=["x1", "x2"]
        ),
    ):
        publishing.publish(request, root)
    with running(root, reload_interval_s=0) as srv:
        yield srv


def cards(browser: Any) -> dict[str, list[str]]:
    """Each card's id and the models answering in it."""
    found = {}
    for card in browser.find_elements("css selector", "section.card, .forms .card"):
        boxes = card.find_elements("css selector", ".result")
        found[card.get_attribute("id")] = [b.get_attribute("data-model") for b in boxes]
    return found


def test_every_served_model_has_a_card_the_shipped_ones(
    browser: Any, shipped_server: RunningServer
) -> None:
    open_page(browser, shipped_server)
    assert cards(browser) == {
        "pad-28x28": ["mnist", "mnist-cnn"],
        "pad-28x84": ["multilabel"],
        "card-coffee": ["coffee"],
        "card-tshirt": ["tshirt"],
    }
    fields = browser.find_elements("css selector", "#form-coffee input")
    assert [f.get_attribute("name") for f in fields] == ["temperature", "duration"]


def test_published_models_get_a_pad_and_a_form_built_from_their_features(
    browser: Any, own_models_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, own_models_server)
    found = cards(browser)
    assert found["pad-8x8"] == ["eights"] and found["card-course"] == ["course"]
    assert found["pad-28x28"] == ["mnist", "mnist-cnn"]  # the shipped ones are still there
    fields = browser.find_elements("css selector", "#form-course input")
    assert [f.get_attribute("name") for f in fields] == ["x1", "x2"]
    course = result(browser, "course")  # the form asks for its starting row on load
    assert course.find_elements("css selector", ".sbar")  # and shows why
    draw(browser, "canvas-8x8", [[(100, 40), (100, 240)], [(40, 140), (240, 140)]])
    box = result(browser, "eights")
    assert box.get_attribute("data-label") in {"a", "b", "c"}
    assert box.find_element("css selector", ".why canvas.heat").get_attribute("width") == "8"
    assert box.find_element("css selector", ".about a").text == "model card"  # from publish
    browser.execute_script("document.getElementById('pad-8x8').scrollIntoView()")
    screenshot(browser, screenshots / "page-own-models.png")


def heat_colours(browser: Any, box: Any) -> dict[str, Any]:
    """The heat map's pixels as the page drew them."""
    return browser.execute_script(  # type: ignore[no-any-return]
        """
        const canvas = arguments[0].querySelector('.why canvas.heat');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const colours = new Set(); let orange = 0;
        for (let i = 0; i < data.length; i += 4) {
          colours.add(data[i] + ',' + data[i + 1] + ',' + data[i + 2]);
          if (data[i] > 180 && data[i] > data[i + 2] + 100) orange++;
        }
        return {distinct: colours.size, orange: orange, width: canvas.width};
        """,
        box,
    )


def test_a_drawn_seven_is_explained_by_a_heat_map_over_its_ink(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, shipped_server)
    draw(browser, "canvas-28x28", SEVEN)
    for model in ("mnist", "mnist-cnn"):
        box = result(browser, model)
        assert box.get_attribute("data-label") == "7"
        why = box.find_element("css selector", ".why")
        assert why.get_attribute("data-method") == "occlusion"
        assert "why 7" in why.text and "orange" in why.text
        colours = heat_colours(browser, box)
        # Not one colour: the ink in gray, and orange where blanking it lowered the seven.
        assert colours["width"] == 28 and colours["distinct"] > 20 and colours["orange"] > 5
    screenshot(browser, screenshots / "page-why-seven.png")


def test_the_forms_explain_with_a_signed_bar_per_feature(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, shipped_server)
    box = result(browser, "tshirt")
    row = {"price": 19.5, "shipping_cost": 4, "marketing": 12, "material_quality": 8}
    expected = httpx.post(
        f"{shipped_server.url}/v1/models/tshirt/predict?explain=true", json={"instances": [row]}
    ).json()["predictions"][0]["explanation"]["attributions"]
    shown = box.find_elements("css selector", ".sbar")
    assert [b.get_attribute("data-feature") for b in shown] == list(expected)
    for bar in shown:
        value = expected[bar.get_attribute("data-feature")]
        assert float(bar.get_attribute("data-value")) == pytest.approx(value)
        assert ("plus" if value >= 0 else "minus") in bar.get_attribute("class")
        label, figure = bar.find_elements("css selector", "span")
        assert label.text == bar.get_attribute("data-feature").replace("_", " ")
        assert figure.text.endswith(" pp") and figure.text[0] in "+−"
    assert "if each feature were 10 % higher" in box.text
    browser.execute_script("document.getElementById('card-tshirt').scrollIntoView()")
    screenshot(browser, screenshots / "page-why-tshirt.png")


def test_a_blank_upload_is_answered_with_a_warning(
    browser: Any, shipped_server: RunningServer, tmp_path: Path
) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200), 255, np.uint8)).save(blank)
    open_page(browser, shipped_server)
    browser.find_element("id", "file-28x28").send_keys(str(blank))
    box = result(browser, "mnist-cnn")
    assert box.get_attribute("data-warning") == "true"
    assert "no digit or drawing found" in box.find_element("css selector", ".warning").text
