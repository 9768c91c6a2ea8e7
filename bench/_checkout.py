"""The checkout's root on the import path, for the benchmarks run as `python bench/NAME.py`.

Python puts the script's folder (bench/) first on the path, not the checkout's root, where
the package and the lab's files are; not all of those are installed (pyproject.toml), so the
benchmarks find them here. Imported first, for that effect alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
