"""Side-by-side speed comparisons of skminibatch and scikit-learn.

Run the suite with ``python -m benchmarks`` (``--quick`` for a short run) from the repository
root. Timings are reported as medians and ratios of interleaved runs, never asserted: see
``benchmarks/RESULTS.md`` for a recorded run and how to read it.
"""
