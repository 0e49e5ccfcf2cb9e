"""`logitserve COMMAND ...` (also `python -m service COMMAND ...`): the model lifecycle from a
shell, where the model repository can be written; no server needed, none stopped.

    publish MODEL.onnx --name N --task T --labels a,b [--image HxW | --features a,b] [--eval F]
    promote NAME VERSION        the version serves; newer ones must pass the gate against it
    pin NAME VERSION            the version serves, whatever else is published, until unpin
    unpin NAME
    canary NAME VERSION WEIGHT  WEIGHT % of requests without a version go to VERSION
    load NAME, unload NAME

Each control action is written to the model's control.json: every server reading the
repository applies it at its next rescan (`--reload-interval-s`, 1 s by default).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelrepo import control_state
from modelrepo.control_state import Action
from modelrepo.names import is_version
from service.commands import publishing
from service.repository.folders import check_name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logitserve",
        description="The model lifecycle: publish your own ONNX graph, promote, pin, canary.",
    )
    models_dir = argparse.ArgumentParser(add_help=False)
    models_dir.add_argument(
        "--models-dir", type=Path, default=Path("models"), help="the model repository (models)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser(
        "publish", parents=[models_dir], help="publish an ONNX graph as the next version"
    )
    pub.add_argument("model", type=Path, help="the .onnx file: raw inputs in, logits out")
    pub.add_argument("--name", required=True, help="the model's name")
    pub.add_argument("--task", required=True, choices=["multiclass", "binary", "multilabel"])
    pub.add_argument("--labels", required=True, help="comma-separated, in output order")
    kind = pub.add_mutually_exclusive_group(required=True)
    kind.add_argument("--image", help="HxW: the input is an image of H x W pixels, 0-255")
    kind.add_argument("--features", help="a,b,c: the input is these columns, in this order")
    pub.add_argument("--eval", type=Path, help="held-out data: an .npz with arrays x and y")
    pub.add_argument("--threshold", type=float, help="binary, multilabel: decision threshold")
    pub.add_argument("--promote", action="store_true", help="and promote it")
    for name, text in (("promote", "promote"), ("pin", "pin")):
        cmd = commands.add_parser(name, parents=[models_dir], help=f"{text} a version")
        cmd.add_argument("name")
        cmd.add_argument("version", type=int)
    canary = commands.add_parser("canary", parents=[models_dir], help="canary a version")
    canary.add_argument("name")
    canary.add_argument("version", type=int)
    canary.add_argument("weight", type=float, help="percent of requests without a version")
    for name in ("unpin", "load", "unload"):
        commands.add_parser(name, parents=[models_dir], help=f"{name} a model").add_argument("name")
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
    try:
        if args.command == "publish":
            _publish(args)
        else:
            said = act(
                args.models_dir,
                args.name,
                args.command,
                getattr(args, "version", None),
                getattr(args, "weight", None),
            )
            print(f"{args.name}: {said} (servers apply it at their next rescan)")
    except (LookupError, ValueError, OSError, publishing.PublishError) as exc:
        print(f"logitserve {args.command}: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _publish(args: argparse.Namespace) -> None:
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
    )
    published = publishing.publish(request, args.models_dir)
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in published.metrics.items() if v is not None)
    print(f"published {published.name} version {published.version} at {published.path}")
    print(f"held-out metrics: {metrics}" if metrics else "no held-out metrics (no --eval)")
    if args.promote:
        said = act(args.models_dir, published.name, "promote", published.version)
        print(f"{published.name}: {said}")
