"""The work one upload can cause is bounded by what the model needs, not by what the file
declares: the worst images under the default pixel limit (16 megapixels of RGBA, square or as
wide as allowed) cost a fresh process about what decoding them once costs, and a line of
1 x 16,000,000 pixels is refused before decoding."""

from __future__ import annotations

import io
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from service.api import images
from service.errors import InvalidInput
from tests.servers import ServerProcess, running_process

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 16_000_000  # Settings.max_image_pixels
MIB = 1024 * 1024

PEAK = """
import sys, time
from service.api import images

def peak():  # this process's high-water resident memory (ru_maxrss counts the parent's too)
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))

data = open(sys.argv[1], "rb").read()
before = peak()
started = time.process_time()
for _ in range(4):
    rows = images.to_model_input(images.decode(data, 16_000_000), 28, 28)
    assert rows.shape == (28, 28)
print(peak() - before, time.process_time() - started)
"""


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def line() -> bytes:
    """1 x 16,000,000 RGBA: a few kilobytes of PNG, under the pixel limit."""
    image = Image.new("RGBA", (LIMIT, 1), (255, 255, 255, 255))
    image.paste((0, 0, 0, 255), (LIMIT // 2, 0, LIMIT // 2 + 50_000, 1))
    return png(image)


def photo(width: int = 4000, height: int = 4000) -> bytes:
    """A digit drawn large on white paper, RGBA."""
    image = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    box = (width // 3, height // 5, 2 * width // 3, 4 * height // 5)
    ImageDraw.Draw(image).ellipse(box, outline=(0, 0, 0, 255), width=max(2, height // 20))
    return png(image)


def widest() -> bytes:
    """About the widest shape allowed (20:1) at the pixel limit: 17,880 x 894."""
    return photo(17_880, 894)


def test_a_line_of_sixteen_million_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidInput, match="16000000x1 pixels: sides more than 20 times apart"):
        images.decode(line(), LIMIT)


@pytest.mark.parametrize("make", [photo, widest], ids=["4000x4000", "17880x894"])
def test_the_worst_images_at_the_default_limit_cost_about_one_decode(
    make: object, tmp_path: Path
) -> None:
    path = tmp_path / "upload.png"
    path.write_bytes(make())  # type: ignore[operator]
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    peak, cpu_s = (float(v) for v in done.stdout.split())
    # Decoding 16 M RGBA pixels alone takes 61 MiB, one byte per pixel of ink 15 more; all
    # else works on a copy reduced to 1,024 pixels a side.
    assert peak < 96 * MIB, f"peak grew by {peak / MIB:.0f} MiB"
    assert cpu_s < 8, f"{cpu_s:.1f} s of CPU for four uploads"


def upload(server: ServerProcess, files: list[bytes]) -> httpx.Response:
    parts = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(files)]
    return httpx.post(f"{server.url}/v1/models/mnist/predict/image", files=parts, timeout=120)


def high_water_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def test_concurrent_worst_uploads_stay_far_below_the_memory_limit(repository: Path) -> None:
    """Eight clients at once, each with two 16-megapixel images (the most a request may
    declare): at most two requests decode at a time (the default on four CPUs, as
    deploy/kubernetes gives it), so the server's peak stays under half of its 1 GiB."""
    big = photo()
    args = ("--reload-interval-s", "0", "--no-access-log", "--image-decoders", "2")
    with running_process(repository, *args) as server:
        assert upload(server, [big]).status_code == 200  # warm
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: upload(server, [big, big]), range(8)))
        assert [r.status_code for r in answers] == [200] * 8
        peak = high_water_mb(server.process.pid)
    assert peak < 512, f"the server peaked at {peak:.0f} MB"


def test_the_small_lane_at_its_worst_stays_far_below_the_memory_limit(repository: Path) -> None:
    """Sixteen clients at once, each with the largest small upload (1,024 x 1,024 RGBA, just
    at SMALL_PIXELS): eight decode together in the small lane, beside the large-image bound."""
    from service.api.image_uploads import SMALL_PIXELS

    small = photo(1024, SMALL_PIXELS // 1024)
    args = ("--reload-interval-s", "0", "--no-access-log", "--image-decoders", "2")
    with running_process(repository, *args) as server:
        assert upload(server, [small]).status_code == 200  # warm
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: upload(server, [small]), range(48)))
        assert [r.status_code for r in answers] == [200] * 48
        peak = high_water_mb(server.process.pid)
    assert peak < 512, f"the server peaked at {peak:.0f} MB"


def test_a_request_may_declare_only_so_many_pixels_in_all(repository: Path) -> None:
    big = photo()
    with running_process(repository, "--reload-interval-s", "0") as server:
        r = upload(server, [big, big, big])
    assert r.status_code == 413
    assert r.json()["error"] == (
        "the 3 images declare 48000000 pixels together, more than the limit of 32000000 per "
        "request: send fewer or smaller images"
    )


def test_small_uploads_take_a_wider_lane_of_their_own_and_large_ones_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Large uploads decode `image_decoders` at a time; small ones (what most uploads are) up
    to SMALL_LANE at a time beside them, never queued behind a large one."""
    import asyncio
    import threading
    import time

    from service.api import image_uploads as module
    from service.api.image_uploads import SMALL_LANE, SMALL_PIXELS, Uploads

    running = {"small": 0, "large": 0}
    most = {"small": 0, "large": 0}
    small_beside_large = []
    lock = threading.Lock()

    def decode(blobs: list[bytes], names: list[str], manifest: object, limit: int) -> object:
        kind = blobs[0].decode()
        with lock:
            running[kind] += 1
            most[kind] = max(most[kind], running[kind])
            small_beside_large.append(kind == "small" and running["large"] > 0)
        time.sleep(0.05)
        with lock:
            running[kind] -= 1
        return kind

    monkeypatch.setattr(module.v1_codec, "decode_images", decode)
    monkeypatch.setattr(
        module.images,
        "declared_pixels",
        lambda blob: SMALL_PIXELS if blob == b"small" else SMALL_PIXELS + 1,
    )

    async def scenario() -> list[object]:
        lanes = Uploads(max_image_pixels=10**9, max_upload_pixels=10**9, decoders=1)
        calls = [lanes.rows([b"large"], ["l"], None) for _ in range(3)]  # type: ignore[arg-type]
        calls += [lanes.rows([b"small"], ["s"], None) for _ in range(12)]  # type: ignore[arg-type]
        return list(await asyncio.gather(*calls))

    answers = asyncio.run(scenario())
    assert answers == ["large"] * 3 + ["small"] * 12
    assert most["large"] == 1
    # The default thread pool (cores + 4 threads) may bound the small lane further.
    assert 2 <= most["small"] <= SMALL_LANE
    assert any(small_beside_large)
