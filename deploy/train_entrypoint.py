"""The train image's entry point: the training CLI, run as whoever owns /models.

Started as root (Compose starts the trainer so), it becomes the owner of the folder mounted at
/models before anything else runs, so what it publishes belongs to that user: a root shell
gets root's files in a root-owned ./models, a user in the docker group gets their own, and
rootless podman (where the user is root inside) gets the user's. Started as anyone else (the
image's default uid 10001, or `--user`), it changes nothing.

Only the standard library, and no privileges kept: it replaces itself with
`python -m training ARGS`.
"""

from __future__ import annotations

import os
import sys

MODELS = "/models"


def become_owner_of(folder: str) -> None:
    owner = os.stat(folder)
    if os.getuid() != 0 or owner.st_uid == 0:
        return
    os.setgroups([])
    os.setgid(owner.st_gid)
    os.setuid(owner.st_uid)


def main() -> None:
    become_owner_of(MODELS)
    os.execv(sys.executable, [sys.executable, "-m", "training", *sys.argv[1:]])


if __name__ == "__main__":
    main()
