"""``python -m skminibatch``: the batch-size study of the seed tutorial, on built-in or your data.

Without a command, runs the study of the tutorial "How to Control the Stability of Training
Neural Networks With the Batch Size" (blobs data, an MLP of 50 ReLU units trained by SGD with
momentum 0.9 for 200 epochs): batch gradient descent, stochastic gradient descent at learning
rates 0.01 and 0.001, mini-batch 32 and a sweep over batch sizes 4 to 450. It prints a table
next to the tutorial's Keras figures and writes the figure of learning curves to a PNG file.

``python -m skminibatch sweep data.csv --target COLUMN`` runs the same study on a CSV file.
"""

import argparse
import csv
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ._advisor import suggest_batch_size
from ._batching import AUTO_BATCH_SIZE
from ._estimators import MiniBatchMLPClassifier, MiniBatchRegressor
from ._sweep import batch_size_sweep

#: The tutorial's figures (Keras 2.3, one run each): (batch size, learning rate) -> (train, test).
PUBLISHED = {
    ("full", 0.01): (0.816, 0.830),
    (1, 0.01): (0.612, 0.606),
    (1, 0.001): (0.816, 0.824),
    (32, 0.01): (0.832, 0.812),
}
SWEEP_BATCH_SIZES = (4, 8, 16, 32, 64, 128, 256, 450)
TARGET_SCORE = 0.78
EPOCHS = 200
EXIT_USAGE = 2
#: Defaults of the options that may be written before the command or after ``sweep``.
COMMON_DEFAULTS = {"epochs": EPOCHS, "seed": 0, "n_jobs": 1, "verbose": 0}
DEFAULTS = {
    None: {**COMMON_DEFAULTS, "repeats": 5, "out": "batch_size_study.png"},
    "sweep": {**COMMON_DEFAULTS, "repeats": 1, "out": "."},
}
#: Training rows the sweep needs: the suggestion's gradient noise scale needs two.
MIN_TRAINING_ROWS = 2
COMPILE_NOTE = "the first run after installing also compiles the kernels, about 10 s"


def blobs_problem():
    """The tutorial's data: ``make_blobs`` (1000 points, 3 classes), first 500 rows to train.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
    """
    X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    return X[:500], y[:500], X[500:], y[500:]


def tutorial_estimator(task="classification", hidden_layer_sizes=(50,), epochs=EPOCHS):
    """The tutorial's network and optimizer, as our estimator.

    50 ReLU units with He-uniform initial weights, softmax output, cross-entropy, SGD with
    momentum 0.9 in Keras' form (``v = 0.9 v - lr g; w += v``: not Nesterov, the same as
    torch's SGD for a constant rate), learning rate 0.01, no penalty, every epoch run.
    """
    estimator = MiniBatchMLPClassifier if task == "classification" else MiniBatchRegressor
    return estimator(
        hidden_layer_sizes,
        activation="relu",
        weight_init="he_uniform",
        solver="sgd",
        momentum=0.9,
        nesterovs_momentum=False,
        learning_rate_init=0.01,
        alpha=0.0,
        max_iter=epochs,
        tol=None,
    )


def tutorial_configurations():
    """The study's (batch size, learning rate) pairs, in the order they are trained."""
    return [(b, 0.01) for b in (1, *SWEEP_BATCH_SIZES, "full")] + [(1, 0.001)]


def tutorial_study(
    epochs=EPOCHS, n_repeats=5, n_jobs=None, random_state=0, verbose=0, progress=None
):
    """Every fit of the tutorial, repeated over seeds ``random_state + r``.

    ``progress(row)``, when given, is called with each configuration's summary row as soon
    as its repeats are done, in the order of :func:`tutorial_configurations`.

    Returns
    -------
    rows : list of dict
        One summary row per configuration (see :class:`skminibatch.SweepResult`), ordered
        by batch size then decreasing learning rate, with the tutorial's ``published``
        (train, test) figures or None.
    sweeps : dict
        The :class:`skminibatch.SweepResult` of each learning rate: 0.01 over batch sizes 1,
        4, 8, ..., 450 and 'full'; 0.001 at batch size 1.
    """
    X_train, y_train, X_test, y_test = blobs_problem()
    common = dict(
        validation_data=(X_test, y_test),
        n_repeats=n_repeats,
        target_score=TARGET_SCORE,
        n_jobs=n_jobs,
        verbose=verbose,
        random_state=random_state,
    )
    estimator = tutorial_estimator(epochs=epochs)
    sweeps = {
        rate: batch_size_sweep(
            estimator,
            X_train,
            y_train,
            batch_sizes=[b for b, r in tutorial_configurations() if r == rate],
            learning_rates=[rate],
            progress=progress,
            **common,
        )
        for rate in (0.01, 0.001)
    }
    rows = [row for sweep in sweeps.values() for row in sweep.configurations]
    rows.sort(
        key=lambda row: (row["batch_size"] == "full", row["batch_size"], -row["learning_rate"])
    )
    for row in rows:
        row["published"] = PUBLISHED.get((row["batch_size"], row["learning_rate"]))
    return rows, sweeps


# ----------------------------------------------------------------------------------------------
# Tables


def _cell(value, spec=".3f"):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _name(batch_size, n_train):
    if batch_size == "auto":
        batch_size = min(AUTO_BATCH_SIZE, n_train)
    if batch_size == "full" or batch_size == n_train:
        return "batch GD"
    return "stochastic GD" if batch_size == 1 else "mini-batch GD"


def format_table(
    rows, score_name, target_score=None, published=False, n_train=None, val_name="test"
):
    """The summary rows as a fixed-width text table (medians over repeats, IQR in brackets).

    ``val_name`` names the held-out data in the header: 'test' in the tutorial, 'val' for a
    validation split."""
    header = [
        ("method", "<13"),
        ("batch", ">5"),
        ("lr", ">6"),
        ("upd/ep", ">6"),
        (f"train {score_name}", ">15"),
        (f"{val_name} {score_name}", ">15"),
    ]
    if published:
        header.append(("Keras tr/te", ">11"))
    header += [("volatility", ">10")]
    if target_score is not None:
        header.append((f"ep>={target_score:g}", ">8"))
    header += [("ms/epoch", ">8"), ("diverged", ">8")]
    lines = ["  ".join(format(name, spec) for name, spec in header)]
    for row in rows:
        n = row["n_repeats"]
        cells = [
            _name(row["batch_size"], n_train),
            str(row["batch_size"]),
            f"{row['learning_rate']:g}",
            _cell(row["updates_per_epoch"], "g"),
            f"{_cell(row['train_score'])} ({_cell(row['train_score_spread'])})",
            f"{_cell(row['val_score'])} ({_cell(row['val_score_spread'])})",
        ]
        if published:
            figures = row.get("published")
            cells.append(f"{figures[0]:.3f}/{figures[1]:.3f}" if figures else "")
        cells.append(_cell(row["volatility"], ".4f"))
        if target_score is not None:
            reached = row["target_reached"]
            to_target = _cell(row["epochs_to_target"], "g")
            if reached is not None and 0 < reached < 1:
                to_target += f" ({reached * n:.0f}/{n})"
            cells.append(to_target)
        cells += [_cell(1000 * row["seconds_per_epoch"], ".3f"), f"{row['n_diverged']}/{n}"]
        lines.append(
            "  ".join(format(c, spec) for c, (_, spec) in zip(cells, header, strict=True))
        )
    return "\n".join(lines)


def _suggestion_line(advice):
    return (
        f"suggested batch size: {advice.batch_size} (learning rate {advice.learning_rate:g}, "
        f"gradient noise scale {advice.noise_scale:.3g})"
    )


def _announce(n_configurations, args, data, score_name, val_name):
    """Say on standard error (standard output keeps only the results) what is about to be
    trained; return ``progress(row)`` for :func:`batch_size_sweep`, one line per finished
    configuration."""
    seeds = f"{args.repeats} seed" + ("" if args.repeats == 1 else "s")
    _say(
        f"training {n_configurations} configurations x {seeds}, {args.epochs} epochs each, "
        f"on {data} ({COMPILE_NOTE})"
    )
    started = time.perf_counter()
    done = 0

    def progress(row):
        nonlocal done
        done += 1
        _say(
            f"[{done}/{n_configurations}] batch {row['batch_size']}, lr "
            f"{row['learning_rate']:g}: median {val_name} {score_name} "
            f"{_cell(row['val_score'])}, {time.perf_counter() - started:.1f} s elapsed"
        )

    return progress


def _say(message):
    print(message, file=sys.stderr, flush=True)


class OutputError(OSError):
    """A result file that could not be written (after the results were printed): reported in
    one line, exit status 1."""


def _save_figure(result, path):
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure = result.plot(path, dpi=110)
    except ImportError as error:
        print(f"figure not written: {error}", file=sys.stderr)
        return None
    except OSError as error:
        raise OutputError(f"figure not written to {path}: {error.strerror or error}") from error
    del figure
    return Path(path).resolve()


# ----------------------------------------------------------------------------------------------
# The default study


def run_tutorial(args):
    started = time.perf_counter()
    n_configurations = len(tutorial_configurations())
    progress = _announce(n_configurations, args, "the tutorial's blobs data", "acc", "test")
    rows, sweeps = tutorial_study(
        epochs=args.epochs,
        n_repeats=args.repeats,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        verbose=args.verbose,
        progress=progress,
    )
    X_train, y_train, _, _ = blobs_problem()
    estimator = tutorial_estimator(epochs=args.epochs).set_params(random_state=args.seed)
    advice = suggest_batch_size(estimator, X_train, y_train)
    print(
        f"Seed tutorial: blobs (3 classes), 500 training and 500 test samples; MLP 50 ReLU "
        f"units, He-uniform, SGD momentum 0.9 (not Nesterov), {args.epochs} epochs.\n"
        f"Medians over {args.repeats} seeds ({args.seed}..{args.seed + args.repeats - 1}), "
        f"interquartile range in brackets; 'Keras tr/te' is the tutorial's single run.\n"
        f"volatility: std of the test accuracy over the last 20% of epochs; ep>="
        f"{TARGET_SCORE:g}: median first epoch with test accuracy >= {TARGET_SCORE:g} (how many "
        f"seeds reached it, when not all).\n"
    )
    print(format_table(rows, "acc", TARGET_SCORE, published=True, n_train=len(X_train)))
    print()
    print(_suggestion_line(advice))
    path = _save_figure(sweeps[0.01], args.out)
    if path is not None:
        print(f"figure: {path}")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


# ----------------------------------------------------------------------------------------------
# The study on a CSV file


class DataError(ValueError):
    """A problem with the user's CSV file: reported in one line, exit status 2."""


_INTEGER = re.compile(r"^[+-]?\d+$")


def read_csv(path, target):
    """Features (float) and target values (strings) of a CSV file with a header row.

    Blank lines are skipped, as ``pandas.read_csv`` does; a line of empty fields is not blank.

    Raises
    ------
    DataError
        If the file cannot be read, has no target column or repeated column names, a
        non-numeric feature value, an empty, missing ('nan') or infinite value in any column,
        or rows of different lengths.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            lines = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"cannot read {path}: {error}") from error
    lines = [
        (number, line)
        for number, line in enumerate(lines, 1)
        if len(line) > 1 or "".join(line).strip()  # not blank: has a separator or text
    ]
    if not lines:
        raise DataError(f"{path} is empty")
    header = [name.strip() for name in lines[0][1]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path} repeats the column name(s) {', '.join(map(repr, repeated))}; column "
            f"names must be unique"
        )
    if target not in header:
        raise DataError(
            f"target column {target!r} not found in {path}; columns: {', '.join(header)}"
        )
    if len(header) < 2:
        raise DataError(f"{path} has no feature columns besides the target {target!r}")
    rows = lines[1:]
    if len(rows) < 10:
        raise DataError(f"{path} has {len(rows)} data rows; the study needs at least 10")
    t = header.index(target)
    features = [j for j in range(len(header)) if j != t]
    X = np.empty((len(rows), len(features)))
    y = []
    for i, (number, line) in enumerate(rows):
        if len(line) != len(header):
            raise DataError(
                f"line {number} of {path} has {len(line)} fields; the header has {len(header)}"
            )
        for k, j in enumerate(features):
            value = line[j].strip()
            feature = _cell_number(value, f"column {header[j]!r}", number)
            if feature is None:
                raise DataError(
                    f"column {header[j]!r} is not numeric: the value {value!r} on line "
                    f"{number}; features must be numbers"
                )
            X[i, k] = feature
        value = line[t].strip()
        _cell_number(value, f"target column {target!r}", number)
        y.append(value)
    return X, np.array(y), [header[j] for j in features]


def _cell_number(value, column, line_number):
    """The number written in a CSV cell, or None when it is not a number (a class label, say).

    Parameters
    ----------
    value : str
        The cell, stripped of surrounding spaces.
    column : str
        How errors name the column, e.g. "target column 'y'".
    line_number : int
        The cell's line in the file, for errors.

    Returns
    -------
    float or None

    Raises
    ------
    DataError
        If the cell is empty or holds a missing ('nan') or infinite number.
    """
    if not value:
        raise DataError(f"{column} has an empty value on line {line_number}")
    try:
        number = float(value)
    except ValueError:
        return None
    if math.isnan(number):
        raise DataError(f"{column} has a missing value ({value!r}) on line {line_number}")
    if math.isinf(number):
        raise DataError(f"{column} has an infinite value ({value!r}) on line {line_number}")
    return number


def target_values(values, task, target):
    """The target as numbers or labels, and the task ('classification' or 'regression').

    Auto-detection: a target of integers (written without a decimal point) with at most 20
    distinct values, or of non-numeric labels, is classification; anything else regression.
    """
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        numbers = None
    if task is None:
        integers = numbers is not None and all(_INTEGER.match(v) for v in values)
        few = len(set(values)) <= 20
        task = "classification" if numbers is None or (integers and few) else "regression"
    if task == "regression":
        if numbers is None:
            raise DataError(f"target column {target!r} is not numeric; regression needs numbers")
        return numbers, task
    if numbers is not None and all(_INTEGER.match(v) for v in values):
        labels = numbers.astype(np.int64)
    else:
        labels = numbers if numbers is not None else values
    if np.unique(labels).size < 2:
        raise DataError(f"target column {target!r} has a single class")
    return labels, task


def run_sweep(args):
    started = time.perf_counter()
    X, raw_target, feature_names = read_csv(args.csv, args.target)
    y, task = target_values(raw_target, args.task, args.target)
    try:
        X_train, X_val, y_train, y_val = train_test_split(
            X,
            y,
            test_size=args.validation,
            random_state=args.seed,
            stratify=y if task == "classification" else None,
        )
    except ValueError as error:
        raise DataError(f"cannot hold out {args.validation:g} of the rows: {error}") from error
    scaler = StandardScaler().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    if task == "regression":  # R^2 does not change; the losses are in units of the std of y
        mean, scale = y_train.mean(), y_train.std() or 1.0
        y_train, y_val = (y_train - mean) / scale, (y_val - mean) / scale
    n_train = len(X_train)
    if n_train < MIN_TRAINING_ROWS:
        raise DataError(
            f"--validation {args.validation:g} leaves {n_train} of the {len(X)} rows for "
            f"training; the study needs at least {MIN_TRAINING_ROWS}: lower --validation"
        )
    batch_sizes = [b for b in args.batch_sizes if isinstance(b, str) or b <= n_train]
    if not batch_sizes:
        raise DataError(f"every batch size is larger than the {n_train} training rows")
    estimator = tutorial_estimator(task, args.hidden, args.epochs)
    score_name = "acc" if task == "classification" else "R^2"
    n_configurations = len(batch_sizes) * len(args.learning_rates)
    progress = _announce(
        n_configurations, args, f"{n_train} rows of {args.csv}", score_name, "val"
    )
    try:
        result = batch_size_sweep(
            estimator,
            X_train,
            y_train,
            batch_sizes=batch_sizes,
            learning_rates=args.learning_rates,
            progress=progress,
            validation_data=(X_val, y_val),
            n_repeats=args.repeats,
            target_score=args.target_score,
            n_jobs=args.n_jobs,
            verbose=args.verbose,
            random_state=args.seed,
        )
    except ValueError as error:
        raise DataError(str(error)) from error
    print(
        f"{args.csv}: {task} of {args.target!r} from {len(feature_names)} standardised "
        f"features; {n_train} training and {len(X_val)} validation rows; MLP "
        f"{','.join(map(str, args.hidden))} ReLU units, SGD momentum 0.9, {args.epochs} "
        f"epochs; medians over {args.repeats} seed(s), interquartile range in brackets."
    )
    skipped = [b for b in args.batch_sizes if b not in batch_sizes]
    if skipped:
        print(f"skipped batch sizes larger than the training set: {skipped}")
    print()
    print(
        format_table(
            result.configurations, score_name, args.target_score, n_train=n_train, val_name="val"
        )
    )
    print()
    seeded = estimator.set_params(random_state=args.seed)
    print(_suggestion_line(suggest_batch_size(seeded, X_train, y_train)))
    out = Path(args.out)
    table_path = out / "batch_size_sweep.csv"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with open(table_path, "w", newline="") as file:
            writer = csv.DictWriter(
                file, fieldnames=list(result.configurations[0]), lineterminator="\n"
            )
            writer.writeheader()
            writer.writerows(result.configurations)
    except OSError as error:
        raise OutputError(
            f"table not written to {table_path}: {error.strerror or error}"
        ) from error
    print(f"table: {table_path.resolve()}")
    figure = _save_figure(result, out / "batch_size_sweep.png")
    if figure is not None:
        print(f"figure: {figure}")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


# ----------------------------------------------------------------------------------------------
# Command line


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (use 1, a larger number or -1)")
    return value


def _batch_sizes(text):
    sizes = []
    for item in text.split(","):
        item = item.strip()
        if item in ("full", "auto"):
            sizes.append(item)
            continue
        try:
            sizes.append(_positive_int(item))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not a batch size (an integer >= 1, 'full' or 'auto')"
            ) from None
    if len(set(sizes)) != len(sizes):
        raise argparse.ArgumentTypeError(f"duplicate batch sizes in {text!r}")
    return sizes


def _learning_rates(text):
    try:
        rates = [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not all(r > 0 and math.isfinite(r) for r in rates) or len(set(rates)) != len(rates):
        raise argparse.ArgumentTypeError(f"learning rates must be distinct and > 0: {text!r}")
    return rates


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number: {text!r}")
    return value


def _hidden(text):
    return tuple(_positive_int(item) for item in text.split(","))


def _common_options(parser, defaults, out_help, seeds_split):
    """Add the options of both the default study and ``sweep`` to ``parser``.

    They default to nothing (``argparse.SUPPRESS``), so that the ``sweep`` subparser does not
    overwrite the values written before ``sweep``; :func:`parse_args` fills in ``defaults``
    (a dict of :data:`DEFAULTS`), which the help shows.
    """
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=argparse.SUPPRESS,
        help=f"epochs per fit (default {defaults['epochs']})",
    )
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=argparse.SUPPRESS,
        help=f"fits per configuration, with seeds SEED, SEED+1, ... (default "
        f"{defaults['repeats']})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=argparse.SUPPRESS,
        help=f"first seed of the fits, {seeds_split} (default {defaults['seed']}); the "
        f"seeds SEED..SEED+REPEATS-1 must be in [0, 2**32)",
    )
    parser.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=argparse.SUPPRESS,
        help=f"fits in parallel with joblib: 1 none, -1 one per CPU (default "
        f"{defaults['n_jobs']}); each worker process pays about 2 s to import NumPy, "
        "scikit-learn and Numba, so it pays off for long runs only",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="print a line per finished fit",
    )
    parser.add_argument(
        "--out", default=argparse.SUPPRESS, help=f"{out_help} (default {defaults['out']})"
    )


def build_parser():
    """The parser of the command line, without the defaults of the options of both commands.

    Use :func:`parse_args`, which fills in those defaults (:data:`DEFAULTS`) and checks what
    parsing alone cannot.
    """
    parser = argparse.ArgumentParser(
        prog="python -m skminibatch",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "The batch-size study of the tutorial 'How to Control the Stability of Training "
            "Neural Networks With the Batch Size'.\n\n"
            "Without a command: the tutorial's blobs problem (make_blobs(n_samples=1000, "
            "centers=3,\nn_features=2, cluster_std=2, random_state=2), first 500 rows to "
            "train, the rest to test),\nan MLP of 50 ReLU units (He-uniform weights) trained "
            "by SGD with momentum 0.9, learning\nrate 0.01, for 200 epochs: batch gradient "
            "descent, stochastic gradient descent at\nlearning rates 0.01 and 0.001, "
            "mini-batch 32, and batch sizes 4, 8, 16, 32, 64, 128, 256, 450.\nPrints train "
            "and test accuracy (medians over seeds) next to the tutorial's Keras figures,\n"
            "the volatility (std of the test accuracy over the last 20% of epochs), the "
            "epochs to\n0.78 test accuracy, the time per epoch and the suggested batch size, "
            "and writes the\nlearning curves (one panel per batch size, shared y axis) and a "
            "summary panel to a PNG."
        ),
        epilog="Run 'python -m skminibatch sweep --help' for the study on your own CSV file. "
        "Options\nwritten before 'sweep' apply to it, with its defaults (--repeats 1; --out "
        "names its output\ndirectory, default .).",
    )
    _common_options(
        parser,
        DEFAULTS[None],
        out_help="file of the figure: PNG, or another format matplotlib writes, from the "
        "extension; '.png' is appended to a name without one",
        seeds_split="and of the validation split when written before 'sweep' (the study's "
        "split is fixed)",
    )
    commands = parser.add_subparsers(dest="command", metavar="{sweep}")
    sweep = commands.add_parser(
        "sweep",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="the same study on a CSV file",
        description=(
            "The batch-size study on a CSV file with a header row of unique column names. "
            "Every\ncolumn but the target must be numeric, and no cell may be empty or hold "
            "a missing ('nan')\nor infinite number; blank lines are skipped. A random "
            "share of the rows (--validation,\nstratified by class for classification) is "
            "held out; features are standardised with the\nmean and standard deviation of "
            "the training rows (and so is a regression target: R^2\ndoes not change). The "
            "network is the tutorial's (--hidden ReLU units, He-uniform weights,\nSGD with "
            "momentum 0.9, no penalty, every epoch run). Writes batch_size_sweep.csv (one row "
            "per\nbatch size and learning rate: medians and interquartile ranges over "
            "repeats) and\nbatch_size_sweep.png into --out. Problems with the file are "
            "reported in one line, with exit\nstatus 2."
        ),
    )
    sweep.add_argument("csv", help="the CSV file")
    sweep.add_argument("--target", required=True, help="name of the target column")
    sweep.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="default: classification when the target is not numeric, or is integers "
        "(written without a decimal point) with at most 20 distinct values; else regression",
    )
    sweep.add_argument(
        "--batch-sizes",
        type=_batch_sizes,
        default=[1, 8, 32, 128, "full"],
        help="comma-separated batch sizes, integers, 'full' or 'auto' (default 1,8,32,128,full); "
        "sizes larger than the training set are skipped",
    )
    sweep.add_argument(
        "--learning-rates",
        type=_learning_rates,
        default=[0.01],
        help="comma-separated learning rates, crossed with the batch sizes (default 0.01)",
    )
    sweep.add_argument(
        "--hidden", type=_hidden, default=(50,), help="hidden layer sizes, e.g. 50 or 64,32"
    )
    sweep.add_argument(
        "--validation",
        type=_fraction,
        default=0.2,
        help="share of the rows held out for validation (default 0.2)",
    )
    sweep.add_argument(
        "--target-score",
        type=_finite,
        default=None,
        help="report the first epoch whose validation score reaches this",
    )
    _common_options(
        sweep,
        DEFAULTS["sweep"],
        out_help="directory for the table and the figure",
        seeds_split="also of the validation split",
    )
    # The command's parser reports the errors parse_args finds after parsing.
    parser.set_defaults(usage_error=parser.error)
    sweep.set_defaults(usage_error=sweep.error)
    return parser


def parse_args(argv=None):
    """The options of the command line, with their command's defaults, checked.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    argparse.Namespace
        Every option of the command; for the default study, ``out`` is the figure's path
        (a :class:`pathlib.Path`, '.png' appended to a name without a suffix).

    Raises
    ------
    SystemExit
        With status 2 after the usage and a one-line message, as ``argparse`` does, for a bad
        option, including a seed out of range or an ``--out`` that cannot be written.
    """
    args = build_parser().parse_args(argv)
    usage_error = vars(args).pop("usage_error")
    for name, value in DEFAULTS[args.command].items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if not 0 <= args.seed <= 2**32 - args.repeats:
        usage_error(
            f"argument --seed: must be from 0 to {2**32 - args.repeats} with --repeats "
            f"{args.repeats} (the seeds SEED..SEED+REPEATS-1 must be below 2**32): {args.seed}"
        )
    if args.command == "sweep":
        _check_directory(usage_error, Path(args.out))
    else:
        args.out = _figure_path(usage_error, args.out)
    return args


def _figure_path(usage_error, out):
    """The file the default study writes its figure to, for ``--out`` ``out``.

    Parameters
    ----------
    usage_error : callable
        ``ArgumentParser.error``, called with the message when ``out`` cannot be written.
    out : str
        The value of ``--out``.

    Returns
    -------
    pathlib.Path
        ``out``, with '.png' appended when it has no suffix (as matplotlib would).
    """
    if out.endswith(("/", os.sep)):  # Path would drop the separator, and write 'name.png'
        usage_error(f"argument --out: {out!r} names a directory; give the figure's file name")
    path = Path(out)
    if not path.suffix and not path.is_dir():
        path = path.with_name(f"{path.name}.png")
    if path.is_dir():
        usage_error(f"argument --out: {str(path)!r} is a directory; give the figure's file name")
    formats = _figure_formats()
    if formats is not None and path.suffix[1:].lower() not in formats:
        usage_error(
            f"argument --out: matplotlib cannot write the format of {out!r}; use one of "
            f"{', '.join('.' + name for name in sorted(formats))}"
        )
    _check_directory(usage_error, path.parent)
    return path


def _figure_formats():
    """The file formats (extensions without the dot) matplotlib writes; None without it."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return None
    return FigureCanvasBase.get_supported_filetypes()


def _check_directory(usage_error, directory):
    """Call ``usage_error`` unless ``directory`` (a Path) is, or can be made, a directory
    where files can be written: before training, not when the results are to be saved."""
    existing = next(path for path in (directory, *directory.parents) if path.exists())
    if not existing.is_dir():
        usage_error(f"argument --out: {str(existing)!r} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        usage_error(f"argument --out: cannot write in {str(existing)!r}: {error.strerror}")


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.command != "sweep":
            return run_tutorial(args)
        return run_sweep(args)
    except DataError as error:
        print(f"python -m skminibatch sweep: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OutputError as error:
        print(f"python -m skminibatch: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
