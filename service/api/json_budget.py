"""How much structure a JSON body for one model may hold, checked before it is parsed.

A parser builds a Python object for every array in a body: 300,000 `{"data":[1]}` fit in
7.6 KB of gzip and took seconds and a gigabyte to parse and refuse. What a model can need is
known before the body is read: at most `max_instances` instances, each an array of rows (an
image's rows, or one array for a flat image or a tabular row), every row holding at least
as many numbers as the model's row is wide, each number with its comma at least two bytes.
So the arrays a body may hold are bounded by both the instances and the body's length, and
counting its `[` and `{` (a memchr each) refuses anything denser before any parsing. JSON
bodies are also smaller than binary ones (`--max-json-bytes`): their numbers cost a Python
object each, binary tensors none.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from modelrepo.manifest import Manifest
from service.errors import InvalidInput, PayloadTooLarge
from service.runtime.loaded_model import LoadedModel

# Arrays and objects beyond the rows: the document, `inputs`, `outputs`, shapes, parameters.
SLACK = 64
# Bodies above this are parsed and decoded in a thread, where the event loop gets the
# interpreter back between the parser's and the decoder's steps (each bounded by the budget).
# Below it, decoding holds the loop a few milliseconds at worst, less than a thread hop costs
# the typical request (a 64-image batch is about 200 KB).
OFF_LOOP_BYTES = 1024 * 1024


@dataclass(frozen=True)
class JsonBudget:
    max_bytes: int
    max_instances: int
    arrays_per_instance: int  # the instance's own array and one per row
    row_width: int  # numbers in the narrowest array that can hold numbers

    @classmethod
    def for_model(cls, manifest: Manifest, max_instances: int, max_bytes: int) -> JsonBudget:
        spec = manifest.input
        if spec.image is not None:  # flat, or as rows (v1 takes both; v2 shapes may nest)
            return cls(max_bytes, max_instances, 1 + spec.image.height, spec.image.width)
        return cls(max_bytes, max_instances, 1, max(1, spec.row_size))

    def check(self, text: bytes, what: str = "the JSON body") -> None:
        """PayloadTooLarge or InvalidInput unless `text` fits this model's budget."""
        if len(text) > self.max_bytes:
            raise PayloadTooLarge(
                f"{what} is larger than the limit of {self.max_bytes} bytes for JSON: send "
                "larger batches as binary tensors (Triton's binary data extension) or in "
                "several requests"
            )
        most = min(self.max_instances * self.arrays_per_instance, len(text) // (2 * self.row_width))
        arrays = _count(text, b"[")
        if arrays > most + SLACK:
            raise InvalidInput(
                f"{what} holds {arrays} arrays, more than a request of its size can need for "
                f"this model (rows of {self.row_width} numbers): at most {most + SLACK}"
            )
        objects = _count(text, b"{")
        if objects > self.max_instances + SLACK:
            raise InvalidInput(
                f"{what} holds {objects} objects; a request can need at most "
                f"{self.max_instances + SLACK}"
            )


_BUDGETS: weakref.WeakKeyDictionary[LoadedModel, JsonBudget] = weakref.WeakKeyDictionary()


def budget_for(model: LoadedModel, max_instances: int, max_bytes: int) -> JsonBudget:
    """The model's budget, made once per loaded version (requests only look it up)."""
    budget = _BUDGETS.get(model)
    if budget is None:
        budget = _BUDGETS[model] = JsonBudget.for_model(model.manifest, max_instances, max_bytes)
    return budget


def off_loop(size: int) -> bool:
    """Whether a JSON body of `size` bytes is decoded in a thread rather than on the loop."""
    return size > OFF_LOOP_BYTES


def _count(text: bytes, byte: bytes) -> int:
    # bytes.replace finds each occurrence with memchr: for the few brackets of a real request
    # it is ten times faster than bytes.count, which looks at every byte.
    return len(text) - len(text.replace(byte, b""))
