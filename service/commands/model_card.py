"""The model card of a graph brought from elsewhere: `README.md` beside the version, listed in
its manifest (`report_files`, with its sha256) like training's card, so `GET /v1/models/{name}`
links it and the page shows it beside each answer. Made from what publishing knows: the
graph, what the user said it is, and its evaluation on their held-out data (or that there
was none)."""

from __future__ import annotations

from typing import Any

CARD_FILE = "README.md"


def model_card(manifest: dict[str, Any], source: str, warnings: list[str]) -> str:
    spec, out = manifest["input"], manifest["output"]
    if spec["kind"] == "image":
        image = spec["image"]
        what = f"an image of {image['height']}x{image['width']} pixels, 0-255, light on dark"
    else:
        what = "features in natural units: " + ", ".join(f["name"] for f in spec["features"])
    threshold = manifest.get("threshold")
    lines = [
        f"# `{manifest['name']}`: model card",
        "",
        f"Published with `logitserve publish` from `{source}`: a graph trained elsewhere, "
        "checked by the service's own loader and by `onnx.checker`.",
        "",
        f"- **Task**: {manifest['task']}, labels {', '.join(manifest['labels'])}",
        f"- **Input**: `{spec['name']}` {spec['datatype']} {spec['shape']}: {what}",
        f"- **Output**: `{out['name']}`, logits {out['shape']}; the service applies "
        f"{out['activation']}" + (f", threshold {threshold}" if threshold is not None else ""),
        f"- **Published**: {manifest['created_at']}; model.onnx sha256 "
        f"`{manifest['model_sha256']}`",
        "",
        "## Evaluation",
        "",
    ]
    metrics, dataset = manifest.get("metrics") or {}, manifest.get("dataset")
    if dataset is None:
        lines += [
            "None: published without held-out data (`--eval`). The promotion gate has no "
            "metric to judge this version by.",
        ]
    else:
        lines += [
            f"On `{dataset['name']}`, {dataset['test_size']:,} held-out rows, scored by the "
            "service's own activation as it answers requests:",
            "",
            "| metric | value |",
            "|---|---|",
            *[f"| {k} | {'n/a' if v is None else f'{v:.4f}'} |" for k, v in metrics.items()],
        ]
    if warnings:
        lines += ["", "## Warnings", "", *[f"- {w}" for w in warnings]]
    lines += [
        "",
        "## Limits",
        "",
        "What the graph was trained on, and how, is not known to the service: only the figures "
        "above were measured here. Check them against data like the requests it will answer.",
        "",
    ]
    return "\n".join(lines)
