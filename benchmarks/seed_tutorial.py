"""Reproduce the seed tutorial's findings (Keras, blobs) with our estimators, over 10 seeds.

The tutorial ("How to Control the Stability of Training Neural Networks With the Batch Size")
trains, with Keras 2.3, an MLP of 50 ReLU units (He-uniform weights; the softmax output layer
keeps Keras' default Glorot-uniform) on ``make_blobs(n_samples=1000, centers=3, n_features=2,
cluster_std=2, random_state=2)``, first 500 rows to train and the rest to test, by SGD with
momentum 0.9 (``v = 0.9 v - lr g; w += v``) on categorical cross-entropy for 200 epochs. It
reports one run per configuration:

=====================  ====  ======  ===========  ==========
configuration          batch  lr     train acc    test acc
=====================  ====  ======  ===========  ==========
batch GD               500   0.01    0.816        0.830
stochastic GD          1     0.01    0.612        0.606 (unstable)
stochastic GD          1     0.001   0.816        0.824
mini-batch GD          32    0.01    0.832        0.812
=====================  ====  ======  ===========  ==========

and, for batch sizes 4 to 450, that small batches learn fast but volatile, large ones slowly
and stably.

This script runs the same study with ``python -m skminibatch``'s code (``tutorial_study``)
over seeds 0-9 and prints, per published configuration, our median and range over the seeds
next to the published run; then the volatility and epochs-to-0.78 of every batch size, and
checks the three findings. With ``--torch``, it also runs the Keras recipe itself in PyTorch
(float32, autograd, Keras' Glorot-uniform output layer, ``torch.optim.SGD`` with momentum 0.9,
which equals Keras' SGD for a constant rate, cross-entropy from the logits as tf.keras
computes it for a softmax output), the 10 seeds trained side by side as one batched model,
to show the spread of the published figures' own distribution.

Run from the repository root: ``python -m benchmarks.seed_tutorial`` (about 30-60 s on two
cores) or ``python -m benchmarks.seed_tutorial --torch`` (a few minutes more).
"""

import argparse
import math
import platform
import sys
import time

import numpy as np

import skminibatch
from skminibatch.__main__ import (
    PUBLISHED,
    TARGET_SCORE,
    blobs_problem,
    tutorial_study,
)

CONFIGURATIONS = [("full", 0.01), (1, 0.01), (1, 0.001), (32, 0.01)]
NAMES = {
    ("full", 0.01): "batch GD",
    (1, 0.01): "stochastic GD",
    (1, 0.001): "stochastic GD",
    (32, 0.01): "mini-batch GD",
}


def keras_recipe_in_torch(batch_size, learning_rate, seeds, epochs):
    """Train the tutorial's Keras model in PyTorch, one copy per seed, side by side.

    Returns a dict of arrays over seeds: final ``train`` and ``test`` accuracy, and the test
    accuracy of every epoch (``curves``, shape (n_seeds, epochs)).
    """
    import torch

    torch.set_num_threads(1)
    X_train, y_train, X_test, y_test = blobs_problem()
    X = torch.tensor(X_train, dtype=torch.float32)
    y = torch.tensor(y_train)
    X_te = torch.tensor(X_test, dtype=torch.float32)
    y_te = torch.tensor(y_test)
    n, s = len(X), len(seeds)
    batch = n if batch_size == "full" else batch_size
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]

    def uniform(shape, limit, generator):
        return (torch.rand(shape, generator=generator) * 2 - 1) * limit

    # Keras: he_uniform limit sqrt(6 / fan_in); glorot_uniform sqrt(6 / (fan_in + fan_out)).
    W1 = torch.stack([uniform((2, 50), math.sqrt(6 / 2), g) for g in generators])
    W2 = torch.stack([uniform((50, 3), math.sqrt(6 / 53), g) for g in generators])
    params = [
        W1.requires_grad_(),
        torch.zeros(s, 1, 50, requires_grad=True),
        W2.requires_grad_(),
        torch.zeros(s, 1, 3, requires_grad=True),
    ]
    optimizer = torch.optim.SGD(params, lr=learning_rate, momentum=0.9)

    def logits(inputs):  # inputs: (s, rows, 2)
        W1, b1, W2, b2 = params
        return torch.relu(inputs @ W1 + b1) @ W2 + b2

    def accuracy(inputs, targets):
        with torch.no_grad():
            predicted = logits(inputs.expand(s, -1, -1)).argmax(dim=2)
            return (predicted == targets).float().mean(dim=1).numpy()

    curves = np.empty((s, epochs))
    for epoch in range(epochs):
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators])
        for start in range(0, n, batch):
            rows = orders[:, start : start + batch]  # (s, b): each seed's own shuffle
            outputs = logits(X[rows])
            # Each seed's loss is the mean over its batch; their sum has independent gradients.
            loss = (
                torch.nn.functional.cross_entropy(
                    outputs.reshape(-1, 3), y[rows].reshape(-1), reduction="sum"
                )
                / rows.shape[1]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        curves[:, epoch] = accuracy(X_te, y_te)
    return {"train": accuracy(X, y), "test": curves[:, -1], "curves": curves}


def _range(values):
    values = np.asarray(values, dtype=float)
    return f"{np.median(values):.3f} [{values.min():.3f}-{values.max():.3f}]"


def _within(values, value):
    return "yes" if np.min(values) <= value <= np.max(values) else "NO"


def _volatility(curve, window=0.2):
    n_last = min(len(curve), max(2, math.ceil(window * len(curve))))
    return float(np.std(curve[-n_last:]))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.seed_tutorial", description=__doc__
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--epochs", type=int, default=200, help="epochs per fit (default 200)")
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel fits (default 1)")
    parser.add_argument(
        "--torch", action="store_true", help="also run the Keras recipe in PyTorch"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, sweeps = tutorial_study(
        epochs=args.epochs, n_repeats=args.seeds, n_jobs=args.n_jobs, random_state=0
    )
    ours_seconds = time.perf_counter() - started
    by_key = {(row["batch_size"], row["learning_rate"]): row for row in rows}
    runs = {
        key: {
            name: np.array(
                [run[score] for run in sweeps[key[1]].runs if run["batch_size"] == key[0]]
            )
            for name, score in (("train", "train_score"), ("test", "val_score"))
        }
        for key in CONFIGURATIONS
    }
    print(
        f"# Seed tutorial reproduced: {args.seeds} seeds (0..{args.seeds - 1}), {args.epochs} "
        f"epochs\n"
    )
    print(
        f"skminibatch {skminibatch.__version__}, Python {platform.python_version()}, numpy "
        f"{np.__version__}; our study took {ours_seconds:.1f} s "
        f"(python -m benchmarks.seed_tutorial{' --torch' if args.torch else ''}).\n"
    )
    reference = {}
    if args.torch:
        import torch

        for key in CONFIGURATIONS:
            t = time.perf_counter()
            reference[key] = keras_recipe_in_torch(*key, range(args.seeds), args.epochs)
            print(
                f"Keras recipe in torch {torch.__version__}, batch {key[0]}, lr {key[1]}: "
                f"{time.perf_counter() - t:.1f} s",
                file=sys.stderr,
            )
    print(
        "## The tutorial's four runs: published (Keras, one run) vs median [min-max] over seeds\n"
    )
    header = "| configuration | batch | lr | published train/test | ours train | ours test |"
    rule = "|---|---|---|---|---|---|"
    if args.torch:
        header += " Keras recipe (torch) train | Keras recipe (torch) test |"
        rule += "---|---|"
    header += " published within our range |"
    rule += "---|"
    print(header)
    print(rule)
    for key in CONFIGURATIONS:
        train, test = runs[key]["train"], runs[key]["test"]
        published = PUBLISHED[key]
        inside = [
            f"{name} {_within(values, value)} ({np.median(values) - value:+.3f})"
            for name, values, value in (
                ("train", train, published[0]),
                ("test", test, published[1]),
            )
        ]
        if args.torch:
            inside.append(
                "torch range: train "
                f"{_within(reference[key]['train'], published[0])}, test "
                f"{_within(reference[key]['test'], published[1])}"
            )
        line = (
            f"| {NAMES[key]} | {key[0]} | {key[1]:g} | {published[0]:.3f}/{published[1]:.3f} | "
            f"{_range(train)} | {_range(test)} |"
        )
        if args.torch:
            line += f" {_range(reference[key]['train'])} | {_range(reference[key]['test'])} |"
        line += f" {', '.join(inside)} |"
        print(line)
    print(
        "\n(median minus published in brackets; 'yes' when the published figure lies between "
        "our lowest and highest seed; with --torch, also between the lowest and highest seed "
        "of the Keras recipe run in PyTorch)\n"
    )
    print(f"## Every configuration: medians over {args.seeds} seeds\n")
    print(
        "| batch | lr | updates/epoch | train acc | test acc | volatility | "
        f"epochs to {TARGET_SCORE:g} | seeds reaching {TARGET_SCORE:g} | ms/epoch |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        to_target = row["epochs_to_target"]
        print(
            f"| {row['batch_size']} | {row['learning_rate']:g} | {row['updates_per_epoch']:g} | "
            f"{row['train_score']:.3f} | {row['val_score']:.3f} | {row['volatility']:.4f} | "
            f"{'never' if to_target is None else f'{to_target:g}'} | "
            f"{row['target_reached'] * row['n_repeats']:.0f}/{row['n_repeats']} | "
            f"{1000 * row['seconds_per_epoch']:.3f} |"
        )
    print(
        "\nvolatility: std of the test accuracy over the last 20% of epochs (median over "
        "seeds); epochs to target: median first epoch with test accuracy >= "
        f"{TARGET_SCORE:g}, a seed that never reaches it counting as infinite.\n"
    )
    if args.torch:
        print("Keras recipe in torch, same measures:\n")
        print(f"| batch | lr | volatility | epochs to {TARGET_SCORE:g} |")
        print("|---|---|---|---|")
        for key in CONFIGURATIONS:
            curves = reference[key]["curves"]
            vol = np.median([_volatility(c) for c in curves])
            first = [np.flatnonzero(c >= TARGET_SCORE) for c in curves]
            epochs = np.median([f[0] + 1 if f.size else np.inf for f in first])
            to_target = "never" if np.isinf(epochs) else f"{epochs:g}"
            print(f"| {key[0]} | {key[1]:g} | {vol:.4f} | {to_target} |")
        print()
    _findings(by_key)
    return 0


def _findings(by_key):
    unstable = by_key[(1, 0.01)]["volatility"]
    others = max(row["volatility"] for key, row in by_key.items() if key != (1, 0.01))

    def epochs(batch_sizes):
        values = [by_key[(b, 0.01)]["epochs_to_target"] for b in batch_sizes]
        return ", ".join(
            f"{b}: {'never' if v is None else f'{v:g}'}"
            for b, v in zip(batch_sizes, values, strict=True)
        )

    small = epochs((4, 8, 16, 32))
    large = epochs((128, 256, 450, "full"))
    print("## Findings\n")
    print(
        f"- Instability of batch size 1 at learning rate 0.01: volatility {unstable:.4f}, "
        f"{unstable / others:.1f}x the largest of every other configuration ({others:.4f})."
    )
    print(
        f"- Median epochs to {TARGET_SCORE:g} test accuracy at learning rate 0.01: {small} "
        f"(small batches); {large} (large batches)."
    )


if __name__ == "__main__":
    sys.exit(main())
