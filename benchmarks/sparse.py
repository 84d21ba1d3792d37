"""Sparse input: time and peak memory of one epoch, ours against scikit-learn's MLPClassifier
and SGDClassifier, on a wide sparse classification problem (text-like: 0.1% non-zeros).

Each estimator runs in its own fresh process, so that its peak RSS (``ru_maxrss``) is its own;
the data are generated in that process too and their own footprint is reported.

    python -m benchmarks.sparse            # 200,000 x 100,000, 0.1% non-zeros (a few minutes)
    python -m benchmarks.sparse --quick    # 20,000 x 100,000
"""

import argparse
import json
import subprocess
import sys
import textwrap

RUN_ONE = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, scipy.sparse as sp
    from threadpoolctl import threadpool_limits
    name, n, d, density, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
        float(sys.argv[4]), int(sys.argv[5])
    rng = np.random.RandomState(0)
    per_row = max(1, int(d * density))
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int64)
    X = sp.csr_matrix((rng.uniform(0.1, 1.0, n * per_row).astype(np.float64),
                       rng.randint(0, d, n * per_row), indptr), shape=(n, d))
    X.sum_duplicates()
    w = rng.normal(size=d)
    y = np.digitize(X @ w, np.quantile(X @ w, [0.25, 0.5, 0.75]))
    data_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6
    if name == "skminibatch":
        from skminibatch import MiniBatchMLPClassifier
        model = MiniBatchMLPClassifier((hidden,), solver="sgd", learning_rate_init=0.01,
                                       batch_size=256, max_iter=1, tol=None, random_state=0)
    elif name == "MLPClassifier":
        from sklearn.neural_network import MLPClassifier
        model = MLPClassifier((hidden,), solver="sgd", learning_rate_init=0.01, batch_size=256,
                              max_iter=1, random_state=0)
    else:
        from sklearn.linear_model import SGDClassifier
        model = SGDClassifier(max_iter=1, tol=None, random_state=0)
    if name == "skminibatch":  # compile on a tiny problem first: the epoch is what is timed
        MiniBatchMLPClassifier((2,), max_iter=1, tol=None).fit(X[:50], y[:50] % 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with threadpool_limits(1):
        started = time.perf_counter()
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"estimator": name, "seconds": seconds, "peak_mb": peak,
                      "growth_mb": peak - before, "data_mb": data_mb,
                      "accuracy": float(model.score(X[:20000], y[:20000]))}))
    """
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 200,000")
    args = parser.parse_args(argv)
    n, d, density, hidden = (20_000 if args.quick else 200_000), 100_000, 0.001, 64
    print(
        f"{n} x {d} CSR, {density:.1%} non-zeros, hidden ({hidden},), one epoch, batch 256 "
        f"(SGDClassifier: one epoch of its own), BLAS limited to one thread"
    )
    print(
        f"{'estimator':>14} {'s/epoch':>9} {'peak RSS MB':>12} {'growth MB':>10} "
        f"{'X (CSR) MB':>11} {'train acc':>9}"
    )
    for name in ("skminibatch", "MLPClassifier", "SGDClassifier"):
        done = subprocess.run(
            [sys.executable, "-c", RUN_ONE, name, str(n), str(d), str(density), str(hidden)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            print(f"{name:>14} failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name:>14} {r['seconds']:>9.2f} {r['peak_mb']:>12.0f} {r['growth_mb']:>10.0f} "
            f"{r['data_mb']:>11.0f} {r['accuracy']:>9.3f}"
        )


if __name__ == "__main__":
    main()
