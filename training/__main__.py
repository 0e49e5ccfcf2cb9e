"""``python -m training`` (also the ``logitserve-train`` script and ``torchrun -m training``)."""

import os
import sys

# What the `train` extra brings (pyproject.toml; scikit-learn imports as sklearn); `make serve`
# installs none of it.
TRAIN_EXTRA = {
    "typer",
    "torch",
    "onnxscript",
    "mlxtend",
    "sklearn",
    "tqdm",
    "matplotlib",
    "pandas",
}
INSTALL_HINT = (
    "the training commands need the train extra: run `make train` (torch, then "
    "pip install -e '.[train]' into .venv)"
)


def main() -> None:
    if sys.argv[1:2] == ["publish"]:
        _publish()
    # The commands import what they need when they run (--help needs typer alone): a module
    # of the extra may be found missing at either point.
    try:
        from training.cli import app

        app()
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in TRAIN_EXTRA:
            raise
        sys.exit(f"python -m training: {error.name} is not installed; {INSTALL_HINT}")


def _publish() -> None:
    """`python -m training publish ...` is `logitserve publish ...` (the same hand-over as
    training.cli's `publish`, before typer, which the serve install lacks, is imported)."""
    os.execv(sys.executable, [sys.executable, "-m", "service", *sys.argv[1:]])


if __name__ == "__main__":
    main()
