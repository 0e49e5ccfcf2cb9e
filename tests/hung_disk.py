"""`python -m tests.hung_disk ARGS...`: `python -m service ARGS...` in a process where the
filesystem calls named in HUNG_CALLS (open, scandir, stat) block forever for every path that
contains HUNG_PATH, as they do on an NFS mount whose server has gone away (a test cannot hang
a real mount; this hangs the same calls at the same places)."""

from __future__ import annotations

import builtins
import os
import sys
import threading
from collections.abc import Callable
from typing import Any


def _hanging(real: Callable[..., Any], marker: str) -> Callable[..., Any]:
    forever = threading.Event()

    def call(path: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, str | bytes | os.PathLike) and marker in os.fsdecode(path):
            forever.wait()
        return real(path, *args, **kwargs)

    return call


def main() -> None:
    marker = os.environ["HUNG_PATH"]
    calls = os.environ.get("HUNG_CALLS", "open,scandir,stat").split(",")
    if "open" in calls:
        os.open = _hanging(os.open, marker)
        builtins.open = _hanging(builtins.open, marker)
    if "scandir" in calls:
        os.scandir = _hanging(os.scandir, marker)
    if "stat" in calls:
        os.stat = _hanging(os.stat, marker)
    from service.__main__ import main as serve

    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
