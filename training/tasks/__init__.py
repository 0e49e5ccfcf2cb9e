"""The models training knows, by name. Each page in this package defines one ``TASK``."""

from __future__ import annotations

from pathlib import Path

from modelrepo.names import NAME_RULE, is_model_name
from training.data.splits import Dataset
from training.errors import DataError, UnknownModelError, UsageError
from training.tasks import coffee, mnist, mnist_cnn, multilabel, tshirt
from training.tasks.own import Source, Status, own_task
from training.tasks.spec import Task

TASKS: dict[str, Task] = {
    t.name: t for t in (mnist.TASK, mnist_cnn.TASK, multilabel.TASK, tshirt.TASK, coffee.TASK)
}


OWN_DATA_HINT = "to train on your own data, add --images DIR or --table FILE --target COLUMN"


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(TASKS)
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {known}; {OWN_DATA_HINT}"
        ) from None


def task_for(
    name: str,
    source: Source | None,
    data_dir: Path | None,
    status: Status,
    progress: bool = False,
) -> tuple[Task, Dataset | None]:
    """The course's model ``name`` (its data read later), or a model of your own data, read now."""
    if source is None:
        return get_task(name), None
    if name in TASKS:
        raise UsageError(
            f"{name!r} is one of the course's models, trained on the course's data; give the "
            "model of your own data a name of its own"
        )
    if not is_model_name(name):
        raise UsageError(f"invalid model name {name!r}: {NAME_RULE}")
    if data_dir is not None:
        raise UsageError("--data-dir reads MNIST's IDX files for the course's digit models only")
    return own_task(name, source, status, progress)


def load_task_data(task: Task, data_dir: Path | None) -> Dataset:
    """The task's data; ``data_dir`` (MNIST IDX files) only for the models that read MNIST."""
    if data_dir is not None and not task.accepts_data_dir:
        raise DataError(
            f"model {task.name!r} trains on generated data; --data-dir applies only to "
            f"the MNIST models ({', '.join(t.name for t in TASKS.values() if t.accepts_data_dir)})"
        )
    if data_dir is not None and not data_dir.is_dir():
        raise DataError(f"data folder {data_dir} does not exist or is not a folder")
    return task.load_data(data_dir)
