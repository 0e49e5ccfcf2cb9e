"""`/docs` works without internet: Swagger UI's assets come from the service itself (the
fastapi-offline package), and the page names no other host."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.servers import running

# Every URL-ish value in the HTML: attributes and the strings of the inline script.
REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


def references(html: str) -> list[str]:
    return [a or b for a, b in REFERENCES.findall(html)]


def test_the_docs_page_references_no_outside_host(client: httpx.Client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    assert not re.search(r"https?:|//[a-z0-9]", r.text, re.IGNORECASE), "an absolute URL"
    refs = references(r.text)
    assert len(refs) >= 4, refs  # the css, the favicon, the bundle, the spec
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    assert '"validatorUrl": null' in r.text  # Swagger UI's validator would send the URL outside


def test_the_docs_assets_are_served_by_the_service(client: httpx.Client) -> None:
    html = client.get("/docs").text
    sizes = {}
    for ref in references(html):
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        sizes[ref] = len(asset.content)
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"] and sizes[bundle.url.path] > 100_000
    assert "css" in client.get("/docs/static/swagger-ui.css").headers["content-type"]
    assert client.get("/openapi.json").json()["info"]["title"] == "logitserve"


def test_without_docs_neither_the_page_nor_its_assets_are_served(repository: Path) -> None:
    with (
        running(repository, docs=False, reload_interval_s=0) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        for path in ("/docs", "/docs/static/swagger-ui-bundle.js", "/openapi.json"):
            assert c.get(path).status_code == 404, path
