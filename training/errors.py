"""The errors training reports to people; the CLI prints their message and exits non-zero.

TrainingError
├── UnknownModelError   a model name the package does not know
├── DataError           a missing data folder, a malformed or truncated IDX file
├── CheckpointError     a checkpoint that cannot be resumed
├── ExportError         the exported graph breaks the contract (names, types, opset)
├── ParityError         the ONNX graph disagrees with PyTorch: nothing is published
└── PublishError        no version was found to evaluate

modelrepo.publish.PublishError (the contract's own: the models folder cannot be written, an
invalid name, no free version number) is reported the same way: `REPORTED` holds both.
"""

from modelrepo.publish import PublishError as RepositoryError


class TrainingError(Exception):
    """Base of every error the CLI turns into a clear message and a non-zero exit."""


class UnknownModelError(TrainingError):
    """A model name the package does not know."""


class DataError(TrainingError):
    """A missing data folder, or a malformed or truncated IDX file."""


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
