"""Side-by-side speed comparisons of skminibatch with scikit-learn, PyTorch and skorch.

Run the suite with ``python -m benchmarks`` (``--quick`` for a short run) from the repository
root. Timings are reported as medians and ratios of interleaved runs, never asserted: see
``benchmarks/RESULTS.md`` for recorded runs and how to read them. PyTorch, skorch and matplotlib
are optional: a peer whose library is missing is skipped with a note. Nothing in the package or
its tests imports this folder.
"""
