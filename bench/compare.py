"""fastnn against its peers on the performance contract's workloads (W1-W5).

    python bench/compare.py [--quick] [--workloads W1,W3] [--threads 1,2] [--json out.json]

The same as ``fastnn bench``; see ``--help``. Runs from a checkout without installing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastnn.bench_cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python bench/compare.py"))
