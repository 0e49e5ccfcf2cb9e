"""The train image's entry point: the training CLI, run as whoever owns /models, with a
terminal that has a size.

Started as root (Compose starts the trainer so), it becomes the owner of the folder mounted at
/models before anything else runs, so what it publishes belongs to that user: a root shell
gets root's files in a root-owned ./models, a user in the docker group gets their own, and
rootless podman (where the user is root inside) gets the user's. Started as anyone else (the
image's default uid 10001, or `--user`), it changes nothing.

`podman-compose run` gives the container a terminal even where it has none to copy the size
from (run from a script, CI, `| tee`): a terminal of 0 columns, where the progress bar draws
nothing at all. Such a terminal is given 80 columns, as a terminal without settings has.

Only the standard library, and no privileges kept: it replaces itself with
`python -m training ARGS`.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
from collections.abc import Iterable

MODELS = "/models"


def become_owner_of(folder: str) -> None:
    owner = os.stat(folder)
    if os.getuid() != 0 or owner.st_uid == 0:
        return
    os.setgroups([])
    os.setgid(owner.st_gid)
    os.setuid(owner.st_uid)


def size_terminals(fds: Iterable[int] = (1, 2)) -> None:
    for fd in fds:
        if not os.isatty(fd):
            continue
        rows, cols, x, y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        if cols == 0:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows or 24, 80, x, y))


def main() -> None:
    size_terminals()
    become_owner_of(MODELS)
    os.execv(sys.executable, [sys.executable, "-m", "training", *sys.argv[1:]])


if __name__ == "__main__":
    main()
