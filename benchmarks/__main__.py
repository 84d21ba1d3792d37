"""``python -m benchmarks [--quick] [...]``: run the benchmark suite.

The suite is :mod:`benchmarks.suite` (time per epoch of skminibatch, scikit-learn, a plain
PyTorch loop and skorch on three workloads, floors, start-up, memory, a figure);
``python -m benchmarks --help`` lists its options. The earlier two-peer benchmark is
``python -m benchmarks.epoch_time`` and the per-piece profile of our epoch
``python -m benchmarks.profile_epoch``.
"""

import sys

from .suite import main

if __name__ == "__main__":
    sys.exit(main())
