"""The models training knows, by name. Each page in this package defines one ``TASK``."""

from __future__ import annotations

from pathlib import Path

from training.data.splits import Dataset
from training.errors import DataError, UnknownModelError
from training.tasks import coffee, mnist, mnist_cnn, multilabel, tshirt
from training.tasks.spec import Task

TASKS: dict[str, Task] = {
    t.name: t for t in (mnist.TASK, mnist_cnn.TASK, multilabel.TASK, tshirt.TASK, coffee.TASK)
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(TASKS)
        raise UnknownModelError(f"unknown model {name!r}; known models: {known}") from None


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
