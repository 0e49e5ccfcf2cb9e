"""v1: for people and scripts. Model listings with everything a person wants to know, JSON
predictions, and image uploads (photos and scans of digits).

A prediction goes: the model it addresses (`DataPlane.model`), the options, the body read
and decoded into rows (`v1_codec`, which owns v1's wire format), `DataPlane.score`, and the
predictions written (`v1_codec.predictions`)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from service.api import v1_codec
from service.api.body import read_body
from service.api.deps import ServicesDep, context, services
from service.api.json_budget import budget_for, off_loop
from service.api.openapi import operation_id
from service.api.responses import json_response
from service.api.route_table import PredictionRouter
from service.api.schemas import (
    ModelDetail,
    ModelList,
    PredictRequest,
    PredictResponse,
    error_responses,
)
from service.api.streamed import StreamedResponse
from service.api.v1_codec import Options, parse_options, predictions
from service.errors import InvalidInput, NotFound, UnsupportedMediaType
from service.handlers import explanations, listing
from service.handlers.dataplane import Scored
from service.repository.folders import check_version

router = PredictionRouter(
    tags=["v1: for people and scripts"], generate_unique_id_function=operation_id("v1")
)
RAW_IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})


@router.get("/v1/models", response_model=ModelList)
def list_models(svc: ServicesDep) -> Response:
    return json_response({"models": listing.summaries(svc.registry.models)})


_DETAIL: dict[str, Any] = {"response_model": ModelDetail, "responses": error_responses(400, 404)}


@router.get("/v1/models/{name}", **_DETAIL)
def model_detail(svc: ServicesDep, name: str) -> Response:
    return json_response(listing.detail(svc.registry.status(name)))


@router.get("/v1/models/{name}/versions/{version}", **_DETAIL)
def model_version_detail(svc: ServicesDep, name: str, version: str) -> Response:
    status = svc.registry.status(name)
    number = check_version(version)
    if number not in status.versions:
        raise NotFound(f"model '{name}' has no version {number}")
    return json_response(listing.detail(status, only=number))


@router.get(
    "/v1/models/{name}/versions/{version}/report/{file}",
    response_class=Response,
    responses={
        200: {"description": "the file, with the content type its extension gives"},
        **error_responses(400, 404, 503),
    },
)
async def report_file(
    request: Request, svc: ServicesDep, name: str, version: str, file: str
) -> Response:
    """A file of the version's report (model card, figures): only files its manifest lists,
    streamed (503 while too many are being sent)."""
    model = svc.registry.resolve(name, version)
    report = await svc.reports.open(model, file)
    etag = f'"{report.entry.sha256}"'
    headers = {
        "ETag": etag,
        # Never sniffed, never a document that runs anything: a report is data to look at.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": f'inline; filename="{report.entry.file}"',
        "Cache-Control": "no-cache",  # a version folder may be published again: revalidate
    }
    if etag in request.headers.get("if-none-match", ""):
        report.close()
        return Response(status_code=304, headers=headers)
    return StreamedResponse(report, report.entry.media_type, headers)


def query_string(request: Request) -> str:
    # Straight from the ASGI scope: request.url builds and parses a whole URL object.
    return str(request.scope.get("query_string", b"").decode("latin-1"))


_QUERY = [
    {
        "name": "top_k",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": 3},
        "description": "how many most probable classes to list (clamped to the classes)",
    },
    {
        "name": "threshold",
        "in": "query",
        "required": False,
        "schema": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "description": "binary and multi-label: decision threshold (default: the manifest's)",
    },
    {
        "name": "explain",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean", "default": False},
        "description": "each prediction gets an `explanation` of its top class: for images an "
        "H x W occlusion map (the drop in its probability where each patch is blanked), for "
        "tabular rows each feature's sensitivity (the change in its probability when the "
        f"feature is 10 % higher). At most {explanations.MAX_EXPLAINED} instances per request; "
        "one batched call of the model.",
    },
]


async def _predict(request: Request, name: str, version: str | None) -> Response:
    svc = services(request)
    model = svc.dataplane.model(name, version)
    context(request).serving(model, "v1_predict")
    options = parse_options(query_string(request), model, svc.settings.max_top_k)
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise UnsupportedMediaType(
            f"images go to /v1/models/{name}/predict/image; this route takes JSON"
        )
    settings = svc.settings
    budget = budget_for(model, settings.max_instances, settings.max_json_bytes)
    body = await read_body(request, settings.max_body_bytes)
    decode = (body, model.manifest, settings.max_instances, budget)
    if off_loop(len(body)):
        rows = await asyncio.to_thread(v1_codec.decode, *decode)
    else:
        rows = v1_codec.decode(*decode)
    if options.explain:
        explanations.check(model.manifest, len(rows))
    scored = await svc.dataplane.score(model, rows, v1_codec.row_bytes(model, options))
    warnings = v1_codec.blank_warnings(rows, model.manifest)
    explained = await _explained(scored, rows, options)
    return json_response(predictions(scored, options, warnings=warnings, explanations=explained))


async def _explained(
    scored: Scored, rows: np.ndarray, options: Options
) -> list[dict[str, object]] | None:
    if not options.explain:
        return None
    model = scored.model
    return await explanations.explain(
        model, rows, model.task.class_probabilities(scored.probabilities)
    )


_PREDICT_DOC: dict[str, Any] = {
    "response_model": PredictResponse,
    "responses": error_responses(400, 404, 413, 415, 500, 503),
    "openapi_extra": {
        "parameters": _QUERY,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
        },
    },
}


@router.prediction("/v1/models/{name}/predict", fast=True, **_PREDICT_DOC)
async def predict(request: Request, name: str) -> Response:
    return await _predict(request, name, None)


@router.prediction("/v1/models/{name}/versions/{version}/predict", fast=True, **_PREDICT_DOC)
async def predict_version(request: Request, name: str, version: str) -> Response:
    return await _predict(request, name, version)


async def _predict_image(request: Request, name: str, version: str | None) -> Response:
    svc = services(request)
    settings = svc.settings
    model = svc.dataplane.model(name, version)
    context(request).serving(model, "v1_image")
    manifest = model.manifest
    if manifest.input.kind != "image" or manifest.input.image is None:
        raise InvalidInput(f"model '{name}' takes tabular rows, not images: use /predict")
    options = parse_options(query_string(request), model, settings.max_top_k)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in RAW_IMAGE_TYPES:  # one image as the whole body (curl --data-binary)
        blobs, names = [await read_body(request, settings.max_body_bytes)], ["body"]
    elif content_type == "multipart/form-data":
        async with request.form(
            max_files=settings.max_images, max_fields=16, max_part_size=64 * 1024
        ) as form:
            uploads = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
            if not uploads:
                raise InvalidInput(
                    "multipart upload without a file: send PNG or JPEG files as 'files'"
                )
            blobs = [await upload.read() for upload in uploads]
            names = [(upload.filename or f"file {i}")[:100] for i, upload in enumerate(uploads)]
    else:
        raise UnsupportedMediaType(
            "upload images as multipart/form-data (field 'files'), or one image as the body "
            "with Content-Type: image/png or image/jpeg"
        )
    if options.explain:
        explanations.check(manifest, len(blobs))
    rows, warnings = await svc.uploads.rows(blobs, names, manifest)
    scored = await svc.dataplane.score(model, rows, v1_codec.row_bytes(model, options))
    explained = await _explained(scored, rows, options)
    return json_response(
        predictions(scored, options, files=names, warnings=warnings, explanations=explained)
    )


_IMAGE_DOC: dict[str, Any] = {
    "response_model": PredictResponse,
    "responses": error_responses(400, 404, 413, 415, 500, 503),
    "openapi_extra": {
        "parameters": _QUERY,
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                        "required": ["files"],
                    }
                },
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "description": "PNG or JPEG photos or scans of digits, any size: converted to "
        "grayscale, inverted if dark on light, fitted and centred as MNIST was made. Several "
        "as multipart `files`, or one as the raw body. A file far wider or taller than the "
        "model's canvas gets a `warning` in its prediction.",
    },
}


# Through FastAPI (not fast): the upload is read by Starlette's form parser, whose reads the
# gateway stops at the body limit on the way there.
@router.prediction("/v1/models/{name}/predict/image", fast=False, **_IMAGE_DOC)
async def predict_image(request: Request, name: str) -> Response:
    return await _predict_image(request, name, None)


@router.prediction("/v1/models/{name}/versions/{version}/predict/image", fast=False, **_IMAGE_DOC)
async def predict_image_version(request: Request, name: str, version: str) -> Response:
    return await _predict_image(request, name, version)
