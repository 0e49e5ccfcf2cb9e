"""The page at `/` in headless Chromium: draw with synthetic pointer events (mouse and touch),
drop a PNG, fill the forms, with API keys off and on. Each test keeps a screenshot in
build/screenshots/ (one of them is docs/page.png)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.page.conftest import API_KEY, ROOT
from tests.servers import RunningServer

pytestmark = pytest.mark.timeout(180)

Point = tuple[int, int]
# Strokes in canvas pixels (the one-digit canvas is 280x280), drawn as a person would.
SEVEN = [[(90, 60), (200, 60), (120, 220)]]
ONE = [[(140, 45), (140, 235)]]


def open_page(browser: Any, server: RunningServer, key: str = "") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(server.url + "/")
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "true"
    )
    if key:
        field = browser.find_element("id", "api-key")
        field.send_keys(key)
        browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", field)


def draw(browser: Any, canvas_id: str, strokes: list[list[Point]], touch: bool = False) -> None:
    """Pointer down, moves in small steps, pointer up: through chromedriver's input pipeline,
    so the page sees trusted pointer events of type mouse (or touch)."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    canvas = browser.find_element("id", canvas_id)
    # In the middle of the window, whatever answers above it have done to the layout.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    kind = interaction.POINTER_TOUCH if touch else interaction.POINTER_MOUSE
    width, height = canvas.size["width"], canvas.size["height"]
    scale = width / int(canvas.get_attribute("width"))
    for stroke in strokes:
        actions = ActionBuilder(browser, mouse=PointerInput(kind, "finger" if touch else "mouse"))
        pointer = actions.pointer_action

        def at(p: Point) -> tuple[int, int]:  # offsets from the element's centre
            return round(p[0] * scale - width / 2), round(p[1] * scale - height / 2)

        pointer.move_to(canvas, *at(stroke[0])).pointer_down()
        for a, b in zip(stroke, stroke[1:]):
            for t in np.linspace(0, 1, 12)[1:]:
                pointer.move_to(canvas, *at((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))))
        pointer.pointer_up()
        actions.perform()


def result(browser: Any, model: str, state: str = "done", asked: int = 1) -> Any:
    """A model's result box once its latest question (at least the `asked`th) is answered."""
    from selenium.webdriver.support.ui import WebDriverWait

    box = browser.find_element("css selector", f'.result[data-model="{model}"]')

    def settled(_: object) -> bool:
        n = int(box.get_attribute("data-asked") or 0)
        return (
            n >= asked
            and box.get_attribute("data-answered") == str(n)
            and box.get_attribute("data-state") == state
        )

    WebDriverWait(browser, 20).until(settled)
    return box


def bars(box: Any) -> dict[str, float]:
    return {
        b.get_attribute("data-label"): float(b.get_attribute("data-probability"))
        for b in box.find_elements("css selector", ".bar")
    }


def screenshot(browser: Any, path: Path) -> None:
    """The whole page, not only the window (Chromium's DevTools protocol)."""
    import base64

    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def only_own_origin(browser: Any, server: RunningServer) -> list[str]:
    """Every resource the page loaded that did not come from its server (none, we hope)."""
    urls = browser.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]"
    )
    return [u for u in urls if not u.startswith(server.url + "/")]


def test_a_drawn_seven_shows_both_digit_models_bars_label_and_version(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, shipped_server)
    draw(browser, "canvas-28x28", SEVEN)
    versions = {}
    for model in ("mnist", "mnist-cnn"):
        box = result(browser, model)
        probabilities = bars(box)
        assert list(probabilities) == [str(d) for d in range(10)]
        assert sum(probabilities.values()) == pytest.approx(1, abs=1e-3)
        best = max(probabilities, key=probabilities.__getitem__)
        shown = box.find_element("css selector", ".label").text
        assert shown == best == box.get_attribute("data-label")
        assert box.find_element("css selector", ".bar.top").get_attribute("data-label") == best
        versions[model] = box.find_element("css selector", ".version").text
    assert result(browser, "mnist-cnn").get_attribute("data-label") == "7"
    served = httpx.get(f"{shipped_server.url}/v1/models/mnist-cnn").json()["serving_version"]
    assert versions["mnist-cnn"] == f"version {served}"
    assert only_own_origin(browser, shipped_server) == []
    screenshot(browser, screenshots / "page-drawn-seven.png")


def test_each_answer_says_how_well_its_version_does_and_links_its_model_card(
    browser: Any, shipped_server: RunningServer
) -> None:
    open_page(browser, shipped_server)
    draw(browser, "canvas-28x28", SEVEN)
    for model in ("mnist", "mnist-cnn"):
        detail = httpx.get(f"{shipped_server.url}/v1/models/{model}").json()
        metric = detail["versions"][0]["primary_metric"]
        about = result(browser, model).find_element("css selector", ".about")
        assert f"test accuracy {100 * metric['value']:.1f}%" in about.text
        card = about.find_element("css selector", "a").get_attribute("href")
        answer = httpx.get(card)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/markdown; charset=utf-8"


def test_a_digit_drawn_by_touch_is_read_too(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, shipped_server)
    draw(browser, "canvas-28x28", ONE, touch=True)
    assert result(browser, "mnist-cnn").get_attribute("data-label") == "1"
    screenshot(browser, screenshots / "page-touch-one.png")


def test_an_uploaded_png_is_read_and_previewed(
    browser: Any, shipped_server: RunningServer, screenshots: Path, tmp_path: Path
) -> None:
    # A real MNIST seven, enlarged and printed dark on light, as a scan of it would be.
    pixels = json.loads((ROOT / "docs/examples/mnist-7.json").read_text())["instances"][0]
    digit = 255 - np.array(pixels, dtype=np.uint8).reshape(28, 28)
    path = tmp_path / "scanned-seven.png"
    Image.fromarray(digit).resize((224, 224), Image.Resampling.BILINEAR).save(path)

    open_page(browser, shipped_server)
    browser.find_element("id", "file-28x28").send_keys(str(path))
    for model in ("mnist", "mnist-cnn"):
        assert result(browser, model).get_attribute("data-label") == "7"
    preview = browser.find_element("css selector", "#drop-28x28 img")
    assert preview.is_displayed() and preview.get_attribute("src").startswith("blob:")
    screenshot(browser, screenshots / "page-uploaded-png.png")


def test_a_png_dropped_on_the_drop_zone_is_read(
    browser: Any, shipped_server: RunningServer, tmp_path: Path
) -> None:
    import base64

    pixels = json.loads((ROOT / "docs/examples/mnist-7.json").read_text())["instances"][0]
    path = tmp_path / "dropped.png"
    Image.fromarray(np.array(pixels, dtype=np.uint8).reshape(28, 28)).save(path)
    open_page(browser, shipped_server)
    # What the browser dispatches when a file is dropped: a drop event carrying the file.
    browser.execute_script(
        """
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
        const zone = document.getElementById("drop-28x28");
        for (const type of ["dragover", "drop"]) {
          zone.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true }));
        }
        """,
        base64.b64encode(path.read_bytes()).decode(),
    )
    assert result(browser, "mnist-cnn").get_attribute("data-label") == "7"
    assert "dropped.png" in browser.find_element("id", "drop-28x28").text


def test_the_wide_canvas_shows_sigmoid_bars_against_the_threshold(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, shipped_server)
    # A 1 at the left and a 7 at the right of the 504x168 canvas.
    one = [[(90, 25), (90, 145)]]
    seven = [[(330, 30), (430, 30), (360, 145)]]
    draw(browser, "canvas-28x84", one + seven)
    box = result(browser, "multilabel", asked=3)  # one question per stroke
    probabilities = bars(box)
    assert list(probabilities) == [str(d) for d in range(10)]
    assert sum(probabilities.values()) > 1.05  # independent sigmoids, not a softmax
    threshold = float(
        httpx.get(f"{shipped_server.url}/v1/models/multilabel").json()["default_threshold"]
    )
    assert len(box.find_elements("css selector", ".threshold")) == 10
    lit = {b.get_attribute("data-label") for b in box.find_elements("css selector", ".bar.on")}
    assert lit == {label for label, p in probabilities.items() if p >= threshold}
    assert box.get_attribute("data-label") == ",".join(sorted(lit))
    assert {"1", "7"} <= lit
    screenshot(browser, screenshots / "page-multilabel.png")


def fill(browser: Any, form: str, values: dict[str, float]) -> None:
    for name, value in values.items():
        field = browser.find_element("css selector", f"#form-{form} input[name={name}]")
        field.clear()
        field.send_keys(str(value))
    browser.find_element("css selector", f"#form-{form} button[type=submit]").click()


@pytest.mark.parametrize(
    ("model", "row"),
    [
        ("tshirt", {"price": 45, "shipping_cost": 9, "marketing": 1, "material_quality": 3}),
        ("coffee", {"temperature": 280, "duration": 15}),
    ],
)
def test_the_forms_give_the_apis_probability_in_natural_units(
    browser: Any, shipped_server: RunningServer, screenshots: Path, model: str, row: dict
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, shipped_server)
    result(browser, model)  # the form predicts its starting row on load
    expected = httpx.post(
        f"{shipped_server.url}/v1/models/{model}/predict", json={"instances": [row]}
    ).json()["predictions"][0]
    positive = list(expected["probabilities"])[1]
    fill(browser, model, row)
    box = browser.find_element("css selector", f'.result[data-model="{model}"]')
    WebDriverWait(browser, 20).until(
        lambda _: (
            box.get_attribute("data-state") == "done"
            and float(box.find_element("css selector", ".bar").get_attribute("data-probability"))
            == pytest.approx(expected["probabilities"][positive], rel=1e-5)
        )
    )
    assert box.find_element("css selector", ".label").text == expected["label"]
    screenshot(browser, screenshots / f"page-form-{model}.png")


def test_with_api_keys_on_the_page_asks_for_one_and_then_works(
    browser: Any, keyed_server: RunningServer, screenshots: Path
) -> None:
    open_page(browser, keyed_server)
    draw(browser, "canvas-28x28", SEVEN)
    box = result(browser, "mnist-cnn", state="error")
    assert "needs an API key" in box.text
    assert "needed" in browser.find_element("id", "key-box").get_attribute("class")
    screenshot(browser, screenshots / "page-api-key-needed.png")

    field = browser.find_element("id", "api-key")
    field.send_keys(API_KEY)
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", field)
    # The key applies at once: the last drawing and the forms are asked again.
    assert result(browser, "mnist-cnn").get_attribute("data-label") == "7"
    assert result(browser, "tshirt").get_attribute("data-label")


def test_the_whole_page_in_use(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    """Every card answered at once, without an error: the screenshot in the README."""
    open_page(browser, shipped_server)
    draw(browser, "canvas-28x28", SEVEN)
    labels = {m: result(browser, m).get_attribute("data-label") for m in ("mnist", "mnist-cnn")}
    # Drawn once the digit cards have grown with their answers: the wide canvas below them
    # has moved down by then, and a stroke aimed at where it was would miss it.
    draw(browser, "canvas-28x84", [[(90, 25), (90, 145)], [(330, 30), (430, 30), (360, 145)]])
    labels["multilabel"] = result(browser, "multilabel", asked=3).get_attribute("data-label")
    assert labels["mnist-cnn"] == "7" and labels["multilabel"] == "1,7"
    for model in ("tshirt", "coffee"):
        assert result(browser, model).get_attribute("data-label")
    assert not browser.find_elements("css selector", ".result .error")
    screenshot(browser, screenshots / "page.png")


def test_the_docs_render_from_the_services_own_assets(
    browser: Any, shipped_server: RunningServer, screenshots: Path
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(shipped_server.url + "/docs")
    title = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements("css selector", ".swagger-ui .info .title")
    )
    assert "logitserve" in title[0].text
    assert browser.find_elements("css selector", ".opblock-summary-path")  # the routes listed
    assert only_own_origin(browser, shipped_server) == []
    screenshot(browser, screenshots / "docs.png")
