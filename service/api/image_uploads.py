"""Uploaded images to model input: what one request, and all of them together, may cost.

Decoding is the costly part of an upload (a 16-megapixel PNG takes about 80 MB while it
decodes, whatever its file size), so it runs off the event loop, a bounded number of
requests at a time, and a request may declare only so many pixels in all its files: the
memory uploads can take is bounded by `image_decoders` x `max_upload_pixels`, plus
`SMALL_LANE` x `SMALL_PIXELS` for small uploads.

Small uploads (a phone's crop of a digit, a scan of a few hundred pixels a side: what most
uploads are) take their own, wider lane: queued one at a time behind each other they cost
half again as much CPU per request in hand-offs (BENCHMARKS.md, "Latest"), and
eight of them at once take a few tens of MB.
"""

from __future__ import annotations

import asyncio

import numpy as np

from modelrepo.manifest import Manifest
from service.api import images, v1_codec
from service.errors import PayloadTooLarge

# An upload declaring at most this many pixels in all is small: ~4 MB at 4 bytes a pixel.
SMALL_PIXELS = 1 << 20
SMALL_LANE = 8


class Uploads:
    def __init__(self, max_image_pixels: int, max_upload_pixels: int, decoders: int) -> None:
        self._max_image_pixels = max_image_pixels
        self._max_upload_pixels = max_upload_pixels
        self._slots = asyncio.Semaphore(decoders)
        self._small_slots = asyncio.Semaphore(SMALL_LANE)

    async def rows(
        self, blobs: list[bytes], names: list[str], manifest: Manifest
    ) -> tuple[np.ndarray, list[str | None]]:
        """The files as the model's input batch, and a warning per file (or None);
        PayloadTooLarge when, together, they declare more pixels than a request may."""
        declared = sum(images.declared_pixels(blob) for blob in blobs)
        if declared > self._max_upload_pixels:
            raise PayloadTooLarge(
                f"the {len(blobs)} images declare {declared} pixels together, more than the "
                f"limit of {self._max_upload_pixels} per request: send fewer or smaller images"
            )
        lane = self._small_slots if declared <= SMALL_PIXELS else self._slots
        async with lane:
            return await asyncio.to_thread(
                v1_codec.decode_images, blobs, names, manifest, self._max_image_pixels
            )
