"""A gRPC request parsed only once what parsing it costs is known to be bounded.

protobuf makes an object of every entry of a repeated message, map, string or bytes field, and
4 or 8 bytes of every packed number, whatever it cost on the wire: 32 MiB of empty `inputs`
entries (two bytes each) parse into 1.4 GB, 30 million packed zeros (one byte each) into 270
MB. So a large message is first walked on its bytes, led by its descriptor: the walk counts
the fields it steps over, the entries it would make objects of and the numbers it would
unpack, stops at the first count over its budget, and only then is the message handed to
protobuf. Packed runs are counted by numpy, never a number at a time; the walk itself takes
at most `MAX_FIELDS` steps of Python.

Small messages (most calls) skip the walk: parsing `SMALL_BYTES` can cost a few MB at worst.

A compressed message is inflated here too, not by grpcio (listener.py turns its inflating
off): grpcio inflated on the event loop, a 29 KB gzip'd message into 30 MB, and copied that
twice more before our code saw it. Here it is inflated in a thread (gate.py), only up to the
size limit, and refused if anything follows its end, as HTTP's bodies are (api/body.py).
grpcio no longer says whether a message came compressed, but its bytes do: a protobuf
message never starts with gzip's magic (its wire type would be 7), and a zlib header is
taken for one only if what follows inflates to the end of a stream whose checksum holds.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from service.errors import InvalidInput, PayloadTooLarge

SMALL_BYTES = 64 * 1024
# Field occurrences walked (each a step of Python): a request has tens. Typed contents of
# many numbers are one packed field; written one field per number, they are refused here.
MAX_FIELDS = 65536
# Entries of repeated message, map, string and bytes fields: a request has a handful.
MAX_ENTRIES = 4096
MAX_DEPTH = 32
_CHUNK = 4 * 1024 * 1024  # packed numbers counted this many bytes at a time

M = TypeVar("M", bound=Message)

_GZIP = b"\x1f\x8b"

# How each scalar type travels: one varint, or fixed 4 or 8 bytes.
_T = FieldDescriptor
_VARINT = {
    _T.TYPE_INT32,
    _T.TYPE_INT64,
    _T.TYPE_UINT32,
    _T.TYPE_UINT64,
    _T.TYPE_SINT32,
    _T.TYPE_SINT64,
    _T.TYPE_BOOL,
    _T.TYPE_ENUM,
}
_FIXED = {
    _T.TYPE_FIXED32: 4,
    _T.TYPE_SFIXED32: 4,
    _T.TYPE_FLOAT: 4,
    _T.TYPE_FIXED64: 8,
    _T.TYPE_SFIXED64: 8,
    _T.TYPE_DOUBLE: 8,
}
_ENTRIES = {_T.TYPE_STRING, _T.TYPE_BYTES}


def compressed(data: bytes) -> bool:
    """Whether the message came compressed (gzip, or zlib as gRPC's "deflate")."""
    return data[:2] == _GZIP or _zlib_header(data)


def inflated(data: bytes, max_bytes: int) -> bytes:
    """A message's bytes as its sender serialized them: `data`, or `data` inflated."""
    gzip = data[:2] == _GZIP
    if not gzip and not _zlib_header(data):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        out = None
    whole = out is not None and inflater.eof and not inflater.unused_data
    if out is not None and (len(out) > max_bytes or inflater.unconsumed_tail):
        raise PayloadTooLarge(f"the message inflates past the limit of {max_bytes} bytes")
    if whole and out is not None:
        return out
    if gzip:
        raise InvalidInput("the message is not valid gzip data (truncated, or more after its end)")
    return data  # a protobuf message that happens to start like a zlib header


def parse(data: bytes, message_type: type[M], max_numbers: int) -> M:
    """`data` as a `message_type`, or InvalidInput / PayloadTooLarge saying why not."""
    descriptor = message_type.DESCRIPTOR
    if len(data) > SMALL_BYTES:
        check(data, descriptor, max_numbers)
    try:
        return message_type.FromString(data)
    except DecodeError:
        raise InvalidInput(f"the message is not a valid {descriptor.full_name}") from None


def check(data: bytes, descriptor: Descriptor, max_numbers: int) -> None:
    """Refuse `data` if parsing it as `descriptor`'s message would make more than
    MAX_ENTRIES entries or `max_numbers` numbers, or takes more than MAX_FIELDS steps."""
    budget = _Budget(MAX_FIELDS, MAX_ENTRIES, max_numbers)
    _walk(data, 0, len(data), descriptor, budget, 0)


@dataclass
class _Budget:
    fields: int
    entries: int
    numbers: int
    max_numbers: int = 0

    def __post_init__(self) -> None:
        self.max_numbers = self.numbers

    def spend(self, entries: int, numbers: int) -> None:
        self.entries -= entries
        self.numbers -= numbers
        if self.entries < 0:
            raise PayloadTooLarge(
                f"the message holds more than {MAX_ENTRIES} entries in its repeated fields"
            )
        if self.numbers < 0:
            raise PayloadTooLarge(
                f"the message holds more than {self.max_numbers} numbers: send large tensors "
                "as raw_input_contents"
            )


def _walk(
    buf: bytes, pos: int, end: int, descriptor: Descriptor, budget: _Budget, depth: int
) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"the message nests deeper than {MAX_DEPTH} levels")
    fields = _fields(descriptor)
    while pos < end:
        budget.fields -= 1
        if budget.fields < 0:
            raise PayloadTooLarge(
                f"the message has more than {MAX_FIELDS} fields (typed contents go packed, "
                "as protobuf writes them)"
            )
        tag, pos = _varint(buf, pos, end)
        wire = tag & 7
        start = pos
        if wire == 0:
            _, pos = _varint(buf, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, start = _varint(buf, pos, end)
            pos = start + length
        else:  # groups: no message here has them
            raise InvalidInput("the message is not valid protobuf (a group or a bad wire type)")
        if pos > end:
            raise InvalidInput("the message is not valid protobuf (a field runs past its end)")
        field = fields.get(tag >> 3)
        if field is None:
            continue  # an unknown field is kept as its bytes: nothing to count
        if field.kind == "message":
            budget.spend(1, 0)
            if wire == 2 and field.message is not None:
                _walk(buf, start, pos, field.message, budget, depth + 1)
        elif field.kind == "entry":
            budget.spend(1, 0)
        elif wire != 2:  # one number, unpacked
            budget.spend(0, 1)
        elif field.kind == "varint":
            budget.spend(0, _varints(buf, start, pos))
        else:
            budget.spend(0, (pos - start) // field.size)


@dataclass(frozen=True)
class _Field:
    kind: str  # "message", "entry" (string, bytes), "varint" or "fixed"
    size: int = 0  # of a fixed number
    message: Descriptor | None = None


@cache
def _fields(descriptor: Descriptor) -> dict[int, _Field]:
    kinds: dict[int, _Field] = {}
    for field in descriptor.fields:
        if field.type in (_T.TYPE_MESSAGE, _T.TYPE_GROUP):
            kinds[field.number] = _Field("message", message=field.message_type)
        elif field.type in _ENTRIES:
            kinds[field.number] = _Field("entry")
        elif field.type in _VARINT:
            kinds[field.number] = _Field("varint")
        else:
            kinds[field.number] = _Field("fixed", size=_FIXED[field.type])
    return kinds


def _zlib_header(data: bytes) -> bool:
    """RFC 1950: deflate with a window of at most 32 KiB, and a header checksum."""
    return (
        len(data) >= 2
        and data[0] & 0x0F == 8
        and data[0] >> 4 <= 7
        and ((data[0] << 8) | data[1]) % 31 == 0
    )


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while pos < end and shift < 70:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise InvalidInput("the message is not valid protobuf (a varint runs past its end)")


def _varints(buf: bytes, start: int, end: int) -> int:
    """How many varints a packed run holds: one per byte without the continuation bit."""
    count = 0
    for chunk in range(start, end, _CHUNK):
        size = min(_CHUNK, end - chunk)
        run = np.frombuffer(buf, np.uint8, count=size, offset=chunk)
        count += int(np.count_nonzero(run < 0x80))
    return count
