"""The one settings object: every knob, from the command line or the environment (LOGITSERVE_*).

The command line is pydantic-settings' own (`cli_source`), from the same fields: each option's
help says its default once and its environment variable, with a placeholder people can read."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, CliSettingsSource, NoDecode, SettingsConfigDict

PROG = "logitserve"
ENV_PREFIX = "LOGITSERVE_"
MIB = 1024 * 1024
MIN_SECRET_CHARS = 16  # control token and API keys: long enough not to be guessed

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_prog_name=PROG,
        cli_hide_none_type=True,
        cli_show_env_vars=True,
        extra="ignore",
    )

    # Where and how to listen.
    models_dir: Path = Field(Path("models"), description="the model repository to serve")
    host: str = Field("127.0.0.1", description="address to bind")
    port: int = Field(8000, ge=0, le=65535, description="port to bind")
    grpc_port: int = Field(
        8001, ge=0, le=65535, description="port of the gRPC server, on the same host (0: no gRPC)"
    )
    workers: int = Field(
        1, ge=1, le=64, description="server processes (each loads every model: memory x N)"
    )
    graceful_shutdown_s: float = Field(
        10.0, gt=0, description="on SIGTERM, how long requests in flight may take to finish"
    )
    drain_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="on SIGTERM, first this long with HTTP's port and keep-alive connections "
        "open: each request on them is answered with Connection: close (503 on connections "
        "opened meanwhile), none meets a closed connection (0: close at once)",
    )

    # ONNX Runtime.
    providers: CommaList = Field(
        ["CUDAExecutionProvider", "CPUExecutionProvider"],
        description="execution providers in order of preference (comma-separated)",
    )
    intra_op_threads: int = Field(1, ge=0, description="ONNX Runtime threads per call (0 = all)")
    cpu_below_rows: int | None = Field(
        None,
        ge=0,
        description="for a model on CUDA, calls with fewer rows run on the CPU, where small "
        "batches are faster (default: each model's crossover, measured when it loads; 0: every "
        "call on CUDA)",
    )
    inference_threads: int = Field(
        1,
        ge=0,
        description="threads running ONNX Runtime calls off the event loop (0: every call on "
        "the loop, which then holds up other requests for as long as a call takes)",
    )
    inline_call_us: int | None = Field(
        None,
        ge=0,
        description="calls expected to take less than this (from the model's recent calls) "
        "run on the event loop, saving the hop to a thread (default: 1000 when this process "
        "may use one CPU and batching is on, where the hop overlaps nothing; else 0)",
    )
    cuda_conv_algo_search: Literal["HEURISTIC", "EXHAUSTIVE", "DEFAULT"] = Field(
        "HEURISTIC",
        description="how cuDNN picks convolution algorithms on CUDA (EXHAUSTIVE times every "
        "candidate at each new batch size: slow first calls)",
    )
    max_model_bytes: int = Field(256 * MIB, gt=0, description="refuse model files larger than this")

    # Memory.
    allocator_keep_mib: int = Field(
        32,
        ge=0,
        le=1024,
        description="freed memory the C allocator keeps for the next requests' buffers (MiB, "
        "glibc; 0: its defaults, which hand large buffers back and fault them in again)",
    )

    # Dynamic batching: concurrent requests for one model version share one ONNX Runtime call.
    batching: bool = Field(True, description="gather concurrent requests into one call")
    # ONNX Runtime is at its peak samples/s from about 64 rows; larger gathered calls only
    # grow the working memory (a 1,024-row request still runs whole, alone).
    max_batch_size: int = Field(256, ge=1, description="rows per gathered call")
    max_batch_wait_us: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="how long a batch may wait for more rows, only while other requests are "
        "in flight (0: batches form only from requests that arrived during the previous call)",
    )

    # Hot reload.
    reload_interval_s: float = Field(
        1.0, ge=0, description="how often to rescan the model repository (0: never)"
    )
    disk_timeout_s: float = Field(
        10.0,
        gt=0,
        description="longest a read of the model repository may take (a hung mount): past "
        "it the read is abandoned and the version or folder reported unreadable",
    )
    retry_max_s: float = Field(
        60.0,
        ge=1,
        description="a version that failed to load is tried again after 1 s, then twice as "
        "long each time, up to this",
    )
    strict_readiness: bool = Field(
        False,
        description="ready only while every model in the repository serves (default: while "
        "some model serves; one that never loaded or was unloaded is reported, not fatal)",
    )
    removal_grace_s: float = Field(
        5.0,
        ge=0,
        description="a serving model or version whose folder disappears (a remount, a folder "
        "moved aside) serves on this long before it is unloaded",
    )

    # What loading a model, building a response or reading a report may cost.
    load_timeout_s: float = Field(
        60.0,
        gt=0,
        description="longest a model version may take to load and warm up, its check in a "
        "process of its own included: past it the version is not ready, with the reason (the "
        "start waits no longer for it either)",
    )
    max_load_memory_mib: int = Field(
        512,
        ge=0,
        description="memory a model version may take to load and warm up, measured first in a "
        "process of its own held to about that much (0: no such check, and no deadline on "
        "creating a session either)",
    )
    max_loading: int = Field(
        2,
        ge=1,
        le=64,
        description="model versions loading at once (each check process may take up to "
        "max_load_memory_mib): a slow one holds up no other while one is free",
    )
    max_response_bytes: int = Field(
        16 * MIB,
        ge=64 * 1024,
        description="largest prediction response (rows x classes x label bytes, estimated "
        "before the model runs): a request past it gets 413 saying how many rows fit, or to "
        "ask for top_k classes only",
    )
    report_readers: int = Field(
        4,
        ge=1,
        le=64,
        description="report files streamed at once (503 past it)",
    )

    # Limits on what a client may send.
    max_body_bytes: int = Field(32 * MIB, gt=0, description="largest request body, decompressed")
    max_json_bytes: int = Field(
        2 * MIB,
        gt=0,
        description="largest JSON body, decompressed (every number costs a Python object: "
        "send larger batches as binary tensors)",
    )
    max_instances: int = Field(8192, ge=1, description="most rows (instances) in one request")
    max_images: int = Field(64, ge=1, description="most images in one upload")
    max_image_pixels: int = Field(
        16_000_000, gt=0, description="refuse images declaring more pixels (before decoding)"
    )
    max_header_bytes: int = Field(
        16384, ge=1024, description="largest request line and headers (431 past it)"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="time a client has to send its request headers (408 after)"
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="time a client has to send its request body (408 after)"
    )
    max_connections: int = Field(1024, ge=1, description="open connections; more are closed")
    max_buffered_bytes: int = Field(
        128 * MIB,
        gt=0,
        description="request body bytes held at once, by all requests not yet answered "
        "(503 past it: with max_body_bytes, this bounds the memory bodies can take)",
    )
    max_receiving: int = Field(
        64,
        ge=1,
        description="connections sending a request body at once (503 past it; a body that "
        "arrives with its headers never counts)",
    )
    max_receiving_per_client: int = Field(
        16,
        ge=0,
        description="of those, how many one client address is sure of (past it, 429 once half "
        "the places are taken; 0: no share; behind a proxy that does not buffer bodies every "
        "client shares its address)",
    )
    min_body_rate: int = Field(
        240,
        ge=0,
        description="bytes per second a request body must average once body_rate_grace_s has "
        "passed (408 below it, as Kestrel's MinRequestBodyDataRate; 0: only the body deadline)",
    )
    body_rate_grace_s: float = Field(
        5.0, gt=0, description="how long a request body may take before its pace is checked"
    )
    # gRPC's connections and streams, apart from HTTP's: whatever gRPC clients hold, HTTP
    # keeps its own connections (and the process its descriptors).
    grpc_max_connections: int = Field(
        256, ge=1, description="open gRPC connections; more are closed as they arrive"
    )
    grpc_max_streams: int = Field(
        100,
        ge=1,
        description="calls at once on one gRPC connection (its SETTINGS_MAX_CONCURRENT_STREAMS)",
    )
    grpc_idle_s: float = Field(
        300.0, gt=0, description="a gRPC connection without calls for this long is closed"
    )
    grpc_max_age_s: float = Field(
        3600.0,
        gt=0,
        description="a gRPC connection is closed after this long, its calls given "
        "graceful_shutdown_s to finish (clients reconnect, which spreads them over replicas)",
    )
    max_upload_pixels: int = Field(
        32_000_000, gt=0, description="most pixels all images of one upload may declare together"
    )
    image_decoders: int | None = Field(
        None,
        ge=1,
        description="uploads decoded at once, each 16-megapixel image taking ~80 MB (default: "
        "half the CPUs this process may use, one or two: the rest answer other requests)",
    )
    max_inflight: int = Field(
        1024, ge=1, description="requests in flight before new ones get 503 with Retry-After"
    )
    max_top_k: int = Field(100, ge=1, description="largest top_k a client may ask for")

    # Security.
    control_token: SecretStr | None = Field(
        None, description="enables /v2/repository/* and requires it as a Bearer token"
    )
    api_keys: CommaList = Field(
        [], description="if set, prediction routes need one of these as a Bearer token or X-API-Key"
    )
    auth_failures_per_minute: int = Field(
        30,
        ge=1,
        description="failed API keys or control tokens one client address may present a "
        "minute; past it, its requests that need one get 429 until it has waited",
    )
    cors_origins: CommaList = Field([], description="origins allowed by CORS (none by default)")
    docs: bool = Field(True, description="serve /docs and /openapi.json")

    # Observability.
    access_log: bool = Field(True, description="one JSON line per request")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the least severe log lines written"
    )

    @field_validator("providers", "api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        token = self.control_token.get_secret_value() if self.control_token else None
        if token is not None and len(token) < MIN_SECRET_CHARS:
            raise ValueError(
                f"--control-token (LOGITSERVE_CONTROL_TOKEN) must be at least "
                f"{MIN_SECRET_CHARS} characters"
            )
        if any(len(key) < MIN_SECRET_CHARS for key in self.api_keys):
            raise ValueError(
                f"each key in --api-keys (LOGITSERVE_API_KEYS) must be at least "
                f"{MIN_SECRET_CHARS} characters"
            )
        if token is not None and not _random_enough(token):
            raise ValueError(f"--control-token (LOGITSERVE_CONTROL_TOKEN) {_NOT_RANDOM}")
        if not all(_random_enough(key) for key in self.api_keys):
            raise ValueError(f"a key in --api-keys (LOGITSERVE_API_KEYS) {_NOT_RANDOM}")
        if not self.providers:
            raise ValueError("--providers must name at least one execution provider")
        if "*" in self.cors_origins and (self.api_keys or token):
            raise ValueError("--cors-origins='*' with API keys or a control token is unsafe")
        return self


_NOT_RANDOM = (
    "is too predictable (few distinct characters, or a short pattern repeated): use a random "
    "one, e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))'"
)


def _random_enough(secret: str) -> bool:
    """Not one of the secrets a guesser tries first: five distinct characters at least, and
    no pattern shorter than the minimum length repeated (`aaaa...`, `abab...`,
    `secret-secret-...`). A random token of 16 characters passes but about never fails."""
    if len(set(secret)) < 5:
        return False
    # The shortest unit the secret repeats (at least twice), if any.
    units = (p for p in range(1, len(secret) // 2 + 1) if secret[p:] == secret[:-p])
    return next(units, len(secret)) >= MIN_SECRET_CHARS


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem, naming the option; never the value given (it may be a secret)."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        where = [str(part) for part in problem["loc"]]
        if where and where[0] in Settings.model_fields:
            option = where[0].replace("_", "-")
            message = f"--{option} (LOGITSERVE_{where[0].upper()}): {message}"
        lines.append(message)
    return lines


# Placeholders in --help, by what the value is (pydantic-settings would print the type:
# `int`, `{SecretStr,null}`).
_METAVARS = {
    "models_dir": "DIR",
    "host": "ADDRESS",
    "providers": "NAME,NAME",
    "control_token": "TOKEN",
    "api_keys": "KEY,KEY",
    "cors_origins": "ORIGIN,ORIGIN",
}
_SUFFIX_METAVARS = {"_s": "SECONDS", "_us": "MICROSECONDS", "_bytes": "BYTES", "_mib": "MIB"}


def _metavar(name: str, annotation: object) -> str | None:
    if name in _METAVARS:
        return _METAVARS[name]
    if name.endswith("port"):
        return "PORT"
    for suffix, metavar in _SUFFIX_METAVARS.items():
        if name.endswith(suffix):
            return metavar
    if "int" in str(annotation):
        return "N"
    return None  # a choice of words: argparse lists them


def _default(name: str) -> str | None:
    """The default in words, or None where the description says it already."""
    field = Settings.model_fields[name]
    if re.search(r"\bdefault\b", field.description or ""):
        return None
    value: Any = field.default
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(value)
    if name.endswith("_bytes") and value % MIB == 0:
        return f"{value} ({value // MIB} MiB)"
    return str(value)


def _add_argument(parser: Any, *names: str, **options: Any) -> Any:
    """pydantic-settings' add_argument, with readable placeholders and each default once."""
    name = options.get("dest", "")
    field = Settings.model_fields.get(name)
    if field is not None and options.get("help") not in (None, argparse.SUPPRESS):
        if options.get("metavar") is not None:
            options["metavar"] = _metavar(name, field.annotation) or options["metavar"]
        default = _default(name)
        shown = f" (default: {default})" if default is not None else ""
        env = f"{ENV_PREFIX}{name.upper()}"
        options["help"] = f"{field.description or ''}{shown} [env: {env}]".replace("%", "%%")
    return parser.add_argument(*names, **options)


def cli_source(description: str) -> CliSettingsSource[Settings]:
    """The command line of the server's settings; `description` heads its --help."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [OPTIONS]\n       {PROG} COMMAND [ARGS]",
        description=description,
        epilog=f"{PROG} COMMAND --help: a command's own arguments.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return CliSettingsSource(Settings, root_parser=parser, add_argument_method=_add_argument)
