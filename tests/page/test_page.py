"""The page at `/` without a browser: one self-contained HTML file that talks to the v1 API
of its own server and to nothing else."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.servers import RunningServer


@pytest.fixture(scope="module")
def page(shipped_server: RunningServer) -> httpx.Response:
    return httpx.get(shipped_server.url + "/")


def test_the_page_is_served_at_the_root_as_html(page: httpx.Response) -> None:
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # The cards are built in the page from /v1/models: the file holds their maker, not them.
    assert "Draw a digit" in page.text and "createElement" in page.text


def test_the_page_names_no_outside_host_and_loads_nothing_else(page: httpx.Response) -> None:
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]", page.text, re.IGNORECASE)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:)", page.text)
    # The browser is told the same: only this origin may be fetched.
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy


def test_the_page_calls_only_the_v1_api(page: httpx.Response) -> None:
    calls = re.findall(r"api\(\s*[`\"']([^`\"']+)", page.text)
    assert len(calls) >= 4, calls
    assert all(call.startswith("/v1/") for call in calls), calls
    assert "fetch(" in page.text and page.text.count("fetch(") == 1  # inside api() alone
