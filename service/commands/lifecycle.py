"""`logitserve COMMAND ...` (also `python -m service COMMAND ...`): the model lifecycle from a
shell, where the model repository can be written; no server needed, none stopped.

    publish MODEL.onnx --name N --task T --labels a,b [--image HxW | --features a,b] [--eval F]
    promote NAME VERSION        the version serves; newer ones must pass the gate against it
    pin NAME VERSION            the version serves, whatever else is published, until unpin
    unpin NAME
    canary NAME VERSION WEIGHT  WEIGHT % of requests without a version go to VERSION
    load NAME, unload NAME
    list [NAME...] [--url URL]  what is served (also `status`)

Each control action is written to the model's control.json: every server reading the
repository applies it at its next rescan (`--reload-interval-s`, 1 s by default). Each then
says which version serves as a result, decided as a server decides it (status.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from modelrepo import control_state
from modelrepo.control_state import Action
from modelrepo.names import is_version
from modelrepo.publish import PublishError
from service.commands import status
from service.repository.folders import check_name

# Each command and what it does, for `logitserve --help` as well as its own.
COMMANDS = {
    "publish": "publish an ONNX graph trained anywhere as the next version of a model",
    "promote": "promote a version: it serves; newer ones must pass the gate against it",
    "pin": "pin a version: it serves whatever else is published, until unpin",
    "unpin": "end a pin",
    "canary": "send WEIGHT %% of requests without a version to a version",
    "load": "load a model again (and retry its failed versions)",
    "unload": "stop serving a model",
    "list": "what is served: models, versions, roles, metrics, which version answers and why",
}
ALIASES = {"status": "list"}


def summary() -> str:
    """The commands in a few lines, for the server's --help."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {text.replace('%%', '%')}" for name, text in COMMANDS.items()]
    return "commands:\n" + "\n".join(lines) + "\n  (list is also status)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logitserve",
        description="The model lifecycle: publish your own ONNX graph, promote, pin, canary.",
    )
    models_dir = argparse.ArgumentParser(add_help=False)
    models_dir.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("LOGITSERVE_MODELS_DIR", "models")),
        help="the model repository (default: models) [env: LOGITSERVE_MODELS_DIR]",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        text = COMMANDS[name]
        return commands.add_parser(
            name, parents=[models_dir], help=text, description=text, **options
        )

    pub = command("publish")
    pub.add_argument("model", type=Path, help="the .onnx file: raw inputs in, logits out")
    pub.add_argument("--name", required=True, help="the model's name")
    pub.add_argument("--task", required=True, choices=["multiclass", "binary", "multilabel"])
    pub.add_argument("--labels", required=True, help="comma-separated, in output order")
    kind = pub.add_mutually_exclusive_group(required=True)
    kind.add_argument("--image", help="HxW: the input is an image of H x W pixels, 0-255")
    kind.add_argument("--features", help="a,b,c: the input is these columns, in this order")
    pub.add_argument("--eval", type=Path, help="held-out data: an .npz with arrays x and y")
    pub.add_argument("--threshold", type=float, help="binary, multilabel: decision threshold")
    pub.add_argument(
        "--output", help="the output holding the logits, for a graph with several (skl2onnx's)"
    )
    pub.add_argument("--promote", action="store_true", help="and promote it")
    for name in ("promote", "pin"):
        cmd = command(name)
        cmd.add_argument("name")
        cmd.add_argument("version", type=int)
    canary = command("canary")
    canary.add_argument("name")
    canary.add_argument("version", type=int)
    canary.add_argument("weight", type=float, help="percent of requests without a version")
    for name in ("unpin", "load", "unload"):
        command(name).add_argument("name")
    listing = command("list", aliases=list(ALIASES))
    listing.add_argument("names", nargs="*", metavar="NAME", help="these models only")
    listing.add_argument(
        "--url", help="ask the server at URL (e.g. http://127.0.0.1:8000) instead of the disk"
    )
    return parser


def act(
    models_dir: Path,
    name: str,
    action: Action,
    version: int | None = None,
    weight: float | None = None,
) -> str:
    """Record a control action in the model's control.json; the action in words."""
    _, said = control_state.record(models_dir / check_name(name), action, version, weight)
    return said


def main(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    command = ALIASES.get(args.command, args.command)
    try:
        if command == "publish":
            _publish(args)
        elif command == "list":
            listing = (
                status.from_server(args.url, args.names)
                if args.url
                else status.from_disk(args.models_dir, args.names)
            )
            print("\n".join(status.lines(listing)))
        else:
            said = act(
                args.models_dir,
                args.name,
                command,
                getattr(args, "version", None),
                getattr(args, "weight", None),
            )
            print(f"{args.name}: {said} (servers apply it at their next rescan)")
            print(_serving_now(args.models_dir, args.name))
    except (LookupError, ValueError, OSError, PublishError) as exc:
        print(f"logitserve {command}: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _serving_now(models_dir: Path, name: str) -> str:
    """Which version serves after the action, as a server reading the repository decides."""
    [model] = status.from_disk(models_dir, [name]).models
    return f"{name}: {status.serving_words(model)}"


def _publish(args: argparse.Namespace) -> None:
    from service.commands import publishing

    image = None
    if args.image is not None:
        height, _, width = args.image.lower().partition("x")
        if not (is_version(height) and is_version(width)):
            raise ValueError("--image must be HxW, e.g. 28x28")
        image = (int(height), int(width))
    request = publishing.Request(
        model=args.model,
        name=args.name,
        task=args.task,
        labels=[label.strip() for label in args.labels.split(",") if label.strip()],
        image=image,
        features=[f.strip() for f in args.features.split(",")] if args.features else None,
        held_out=args.eval,
        threshold=args.threshold,
        output=args.output,
    )
    published = publishing.publish(request, args.models_dir)
    for warning in published.warnings:
        print(f"logitserve publish: warning: {warning}", file=sys.stderr)
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in published.metrics.items() if v is not None)
    print(f"published {published.name} version {published.version} at {published.path}")
    print(f"held-out metrics: {metrics}" if metrics else "no held-out metrics (no --eval)")
    if args.promote:
        said = act(args.models_dir, published.name, "promote", published.version)
        print(f"{published.name}: {said}")
    print(_serving_now(args.models_dir, published.name))
