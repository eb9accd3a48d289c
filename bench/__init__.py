"""The benchmarks. Every process a benchmark starts (`credit serve`, `credit import`, a
worker) runs the code of the checkout the benchmark runs from: a console script finds the
packages through the virtual environment's editable install, which points at one checkout, so
a benchmark run from another (a worktree of an earlier commit, for a before and after) would
otherwise time that one's servers against its own figures."""

import os
from pathlib import Path

_CHECKOUT = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_CHECKOUT, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
)
