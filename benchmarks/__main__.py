"""``python -m benchmarks [--quick] [...]``: run the benchmark suite.

The suite is :mod:`benchmarks.epoch_time` (one training epoch, ours against scikit-learn's);
``python -m benchmarks --help`` lists its options. The per-piece profile of our epoch is a
separate run: ``python -m benchmarks.profile_epoch``.
"""

import sys

from .epoch_time import main

if __name__ == "__main__":
    sys.exit(main())
