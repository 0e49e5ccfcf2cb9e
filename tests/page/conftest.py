"""A real browser for the page at `/`: Debian's chromium, driven by Selenium through Debian's
chromium-driver (no browser download). Screenshots are kept in build/screenshots/."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import RunningServer, running

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
API_KEY = "page-test-key-0123456789"

# What runs here (and in CI, as root in a container-like machine, without a display or a GPU).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1720",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
]


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    paths = chromium_paths()
    if paths is None and os.environ.get("CI"):
        pytest.fail("CI runs the browser tests: `make test` installs chromium, yet it is not there")
    if paths is None:
        pytest.skip(
            "chromium and chromedriver are not installed: apt-get install -y chromium "
            "chromium-driver (`make test` does this where apt-get can)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    profile = tempfile.mkdtemp(prefix="logitserve-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def shipped_server(shipped_models: Path) -> Iterator[RunningServer]:
    """The shipped models: the page is made for them, and a drawn digit should be read right."""
    with running(shipped_models, reload_interval_s=0) as srv:
        yield srv


@pytest.fixture(scope="session")
def keyed_server(shipped_models: Path) -> Iterator[RunningServer]:
    with running(shipped_models, reload_interval_s=0, api_keys=[API_KEY]) as srv:
        yield srv


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
