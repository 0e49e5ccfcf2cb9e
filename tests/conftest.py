from __future__ import annotations

import sys
from pathlib import Path

# `tests` is a package of helpers (builders, servers) shared by the test folders.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
