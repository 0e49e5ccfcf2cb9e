"""The models training knows, by name. Each page in this package defines one ``TASK``."""

from __future__ import annotations

from training.errors import UnknownModelError
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
