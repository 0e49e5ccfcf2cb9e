from __future__ import annotations

import sys
from pathlib import Path

# `tests` is a package of helpers (builders, servers) shared by the test folders.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_addoption(parser: object) -> None:
    parser.addoption(  # type: ignore[attr-defined]
        "--long-load",
        action="store_true",
        help="run the load tests in their long form (100k requests, a minute of mixed load)",
    )
