"""What a client sent, fitted to a model's one input: the tensor it names, its datatype and
shape, the instance limit, and finally a batch of rows shaped as the model takes them.

Transport-free: a v2 request's tensors (HTTP or gRPC) come through `fit_tensors`, v1's
instances through `fit_rows` directly.
"""

from __future__ import annotations

import numpy as np

from modelrepo.manifest import Manifest
from service.errors import InvalidInput, PayloadTooLarge, describe
from service.protocol.datatypes import DATATYPES
from service.protocol.messages import RequestTensor
from service.protocol.tensors import check_shape


def fit_tensors(manifest: Manifest, tensors: list[RequestTensor], max_instances: int) -> np.ndarray:
    """The model's input batch from a request's input tensors, or InvalidInput naming the
    first problem. Values are converted only once the tensor is known to fit."""
    spec = manifest.input
    if len(tensors) != 1:
        raise InvalidInput(f"inputs must be a list of one tensor, '{spec.name}'")
    tensor = tensors[0]
    if tensor.name != spec.name:
        got = describe(tensor.name)
        raise InvalidInput(f"model '{manifest.name}' has one input, '{spec.name}'; got {got}")
    what = f"input '{spec.name}'"
    datatype = tensor.datatype
    if datatype not in DATATYPES:
        raise InvalidInput(f"{what}: unknown datatype {describe(datatype)}")
    if datatype != spec.datatype:
        raise InvalidInput(f"{what}: model '{manifest.name}' takes {spec.datatype}, got {datatype}")
    rows = tensor.shape[0] if tensor.shape else None
    if type(rows) is int and rows > max_instances and tuple(tensor.shape[1:]) == spec.row_shape:
        # A batch the model's configuration does not allow: invalid, as Triton answers
        # (INVALID_ARGUMENT), not a body too large.
        raise InvalidInput(
            f"{what}: batch-size must be <= {max_instances} for '{manifest.name}' (got {rows})"
        )
    shape = check_shape(tensor.shape, what, max_instances * spec.row_size)
    if shape[1:] != spec.row_shape:
        dims = ", ".join(map(str, spec.row_shape))
        raise InvalidInput(f"{what}: shape must be [batch, {dims}]; got {list(shape)}")
    values = tensor.content.array(datatype, shape, what)
    return fit_rows(manifest, values, shape[0], max_instances, what)


def fit_rows(
    manifest: Manifest, values: np.ndarray, rows: int, max_instances: int, what: str
) -> np.ndarray:
    """A flat array of `rows` instances as the model's input batch, or InvalidInput."""
    if rows < 1:
        raise InvalidInput(f"{what}: at least one instance is needed")
    if rows > max_instances:
        raise PayloadTooLarge(f"{what}: {rows} instances, more than the limit of {max_instances}")
    spec = manifest.input
    if values.size != rows * spec.row_size:
        raise InvalidInput(
            f"{what}: each instance of model '{manifest.name}' has {spec.row_size} "
            f"values ({spec.describe_row()}); got {values.size} values for {rows} instance(s)"
        )
    return in_model_datatype(values.reshape(rows, *spec.row_shape), manifest)


def in_model_datatype(rows: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Rows read as people send them (pixels 0-255 as uint8, features as float32) in the
    datatype the graph takes: a graph brought from elsewhere may take its pixels as floats,
    still 0-255 (the contract: what a graph needs beyond that is inside it)."""
    dtype = DATATYPES[manifest.input.datatype].numpy
    return rows if rows.dtype == dtype else rows.astype(dtype)
