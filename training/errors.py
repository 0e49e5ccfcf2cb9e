"""The errors training reports to people; the CLI prints their message and exits non-zero.

TrainingError           the run failed (exit status 1)
├── CheckpointError     a checkpoint that cannot be resumed
├── ExportError         the exported graph breaks the contract (names, types, opset)
├── ParityError         the ONNX graph disagrees with PyTorch: nothing is published
├── PublishError        no version was found to evaluate
└── UsageError          what the user gave cannot be used (exit status 2, as bad options)
    ├── UnknownModelError   a model name the package does not know, without data of its own
    └── DataError           data that cannot be trained on: a missing folder, a malformed IDX
                            file, empty class folders, unreadable images, a CSV with missing
                            or non-numeric values, too few rows... (one line naming the file,
                            the folder or the column; nothing is published)

modelrepo.publish.PublishError (the contract's own: the models folder cannot be written, an
invalid name, no free version number) is reported the same way: `REPORTED` holds both.
"""

from modelrepo.publish import PublishError as RepositoryError


class TrainingError(Exception):
    """Base of every error the CLI turns into a clear message and a non-zero exit."""

    # The CLI's exit status: 1, the run failed; 2, what was given cannot be used.
    exit_code = 1


class UsageError(TrainingError):
    """What the user gave cannot be used: the same exit status as a bad option (2)."""

    exit_code = 2


class UnknownModelError(UsageError):
    """A model name the package does not know."""


class DataError(UsageError):
    """Data that cannot be trained on; the message names the file, folder or column."""


class CheckpointError(TrainingError):
    """A checkpoint that cannot be resumed."""


class ExportError(TrainingError):
    """The exported graph breaks the contract (names, types, opset)."""


class ParityError(TrainingError):
    """ONNX Runtime disagrees with PyTorch: nothing is published."""


class PublishError(TrainingError):
    """No version was found to evaluate, or it does not match its manifest."""


# What the CLI turns into a clear message and a non-zero exit.
REPORTED = (TrainingError, RepositoryError)


def exit_code(error: BaseException) -> int:
    """The CLI's exit status for a reported error: 2 for unusable input, else 1."""
    return getattr(error, "exit_code", 1)
