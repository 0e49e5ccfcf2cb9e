"""``python -m training`` (also the ``logitserve-train`` script and ``torchrun -m training``)."""

from training.cli import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
