"""batch_size_sweep and SweepResult: what they record, summarise, draw and reject."""

import math
import re
import sys

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sklearn.datasets import make_blobs, make_regression
from sklearn.model_selection import ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor
from skminibatch._sweep import (
    SweepResult,
    _EpochScores,
    _one_two_five,
    _one_two_five_span,
    batch_size_sweep,
    epochs_to_target,
    volatility,
)

EPOCHS = 4


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=150, centers=3, n_features=2, cluster_std=2, random_state=2)
    return X[:100], y[:100], X[100:], y[100:]


def classifier(**params):
    defaults = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate_init=0.01,
        alpha=0.0,
        max_iter=EPOCHS,
        tol=None,
    )
    return MiniBatchMLPClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def grid(blobs):
    X, y, X_val, y_val = blobs
    return batch_size_sweep(
        classifier(),
        X,
        y,
        batch_sizes=[1, 16, "full"],
        learning_rates=[0.01, 0.05],
        validation_data=(X_val, y_val),
        n_repeats=3,
        target_score=0.5,
        random_state=7,
    )


# ----------------------------------------------------------------------------------------------
# What a sweep returns


def test_one_run_per_batch_size_learning_rate_and_repeat(grid):
    assert len(grid.runs) == 3 * 2 * 3
    assert len(grid.configurations) == 3 * 2
    assert [(row["batch_size"], row["learning_rate"]) for row in grid.configurations] == [
        (1, 0.01),
        (1, 0.05),
        (16, 0.01),
        (16, 0.05),
        ("full", 0.01),
        ("full", 0.05),
    ]
    assert {row["n_repeats"] for row in grid.configurations} == {3}
    # Repeat r is seeded random_state + r, the same seeds for every configuration.
    assert [run["random_state"] for run in grid.runs[:3]] == [7, 8, 9]
    assert {tuple(run["random_state"] for run in grid.runs[i : i + 3]) for i in (0, 3, 6)} == {
        (7, 8, 9)
    }
    assert grid.n_train == 100 and grid.n_val == 50


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_progress_reports_each_configuration_as_its_repeats_finish(blobs, grid, n_jobs):
    X, y, X_val, y_val = blobs
    reported = []
    result = batch_size_sweep(
        classifier(),
        X,
        y,
        batch_sizes=[1, 16, "full"],
        learning_rates=[0.01, 0.05],
        validation_data=(X_val, y_val),
        n_repeats=3,
        target_score=0.5,
        n_jobs=n_jobs,
        progress=reported.append,
        random_state=7,
    )
    assert reported == result.configurations

    def untimed(rows):
        return [{k: v for k, v in row.items() if k != "seconds_per_epoch"} for row in rows]

    assert untimed(reported) == untimed(grid.configurations)  # as without progress
    assert [(row["batch_size"], row["learning_rate"]) for row in reported] == [
        (b, r) for b in [1, 16, "full"] for r in [0.01, 0.05]
    ]


def test_every_record_has_training_and_validation_loss_and_score(grid):
    for run in grid.runs:
        assert len(run["history"]) == EPOCHS
        assert [record["epoch"] for record in run["history"]] == [1, 2, 3, 4]
        for record in run["history"]:
            assert {"loss", "score", "val_loss", "val_score", "seconds", "n_updates"} <= set(
                record
            )
            assert 0 <= record["score"] <= 1 and 0 <= record["val_score"] <= 1
        assert run["train_score"] == run["history"][-1]["score"]
        assert run["val_score"] == run["history"][-1]["val_score"]


def test_updates_per_epoch_follow_the_batch_size(grid):
    updates = {row["batch_size"]: row["updates_per_epoch"] for row in grid.configurations}
    assert updates == {1: 100, 16: math.ceil(100 / 16), "full": 1}


def test_summaries_are_medians_and_interquartile_ranges_over_repeats(grid):
    for row, start in zip(grid.configurations, range(0, 18, 3), strict=True):
        runs = grid.runs[start : start + 3]
        assert {(run["batch_size"], run["learning_rate"]) for run in runs} == {
            (row["batch_size"], row["learning_rate"])
        }
        val = [run["val_score"] for run in runs]
        train = [run["train_score"] for run in runs]
        assert row["val_score"] == pytest.approx(np.median(val))
        assert row["train_score"] == pytest.approx(np.median(train))
        q25, q75 = np.percentile(val, [25, 75])
        assert row["val_score_spread"] == pytest.approx(q75 - q25)
        assert row["volatility"] == pytest.approx(np.median([run["volatility"] for run in runs]))
        seconds = [np.median([r["seconds"] for r in run["history"]]) for run in runs]
        assert row["seconds_per_epoch"] == pytest.approx(np.median(seconds))


def test_histories_gives_the_repeats_of_one_configuration(grid):
    histories = grid.histories(16, 0.05)
    assert len(histories) == 3
    assert histories[0] is grid.runs[9]["history"]
    with pytest.raises(ValueError, match="learning_rate must be given"):
        grid.histories(16)
    with pytest.raises(ValueError, match="No configuration"):
        grid.histories(7, 0.01)


def test_histories_takes_the_batch_sizes_of_the_sweeps_own_tables(grid):
    # to_frame() holds NumPy ints; a row's batch size must find its configuration.
    assert grid.histories(np.int64(16), 0.05) == grid.histories(16, 0.05)


# ----------------------------------------------------------------------------------------------
# The summaries, against hand computations on fabricated histories


def fabricated_run(val_scores, batch_size=8, repeat=0, seconds=0.001, **final):
    history = [
        {
            "epoch": i + 1,
            "loss": 1.0 / (i + 1),
            "batch_size": batch_size,
            "n_updates": 13,
            "n_samples": 100,
            "learning_rate": 0.01,
            "seconds": seconds * (i + 1),
            "score": score + 0.01,
            "val_loss": 1.0 - score,
            "val_score": score,
        }
        for i, score in enumerate(val_scores)
    ]
    return {
        "batch_size": batch_size,
        "learning_rate": 0.01,
        "repeat": repeat,
        "random_state": repeat,
        "history": history,
        **final,
    }


def test_volatility_is_the_std_of_the_last_fifth_of_validation_scores():
    scores = [0.1, 0.3, 0.5, 0.6, 0.7, 0.72, 0.8, 0.74, 0.9, 0.6]  # last 20%: 0.9, 0.6
    result = SweepResult([fabricated_run(scores)])
    mean = (0.9 + 0.6) / 2
    by_hand = math.sqrt(((0.9 - mean) ** 2 + (0.6 - mean) ** 2) / 2)  # population std
    assert result.runs[0]["volatility"] == pytest.approx(by_hand) == pytest.approx(0.15)
    assert result.configurations[0]["volatility"] == pytest.approx(0.15)
    # 11 epochs: ceil(0.2 * 11) = 3 last epochs; a window of 0.5 takes 6.
    eleven = [*scores, 0.75]
    assert volatility(eleven) == pytest.approx(np.std([0.9, 0.6, 0.75]))
    assert volatility(eleven, window=0.5) == pytest.approx(np.std(eleven[-6:]))
    # At least two epochs; one epoch has no spread; none is undefined.
    assert volatility([0.2, 0.4, 0.9]) == pytest.approx(np.std([0.4, 0.9]))
    assert volatility([0.5]) == 0.0
    assert math.isnan(volatility([]))


def test_epochs_to_target_counts_from_one_and_takes_the_median_over_repeats():
    assert epochs_to_target([0.5, 0.78, 0.7, 0.9], 0.78) == 2
    assert epochs_to_target([0.5, 0.6], 0.78) is None
    assert epochs_to_target([0.5, 0.6], None) is None
    runs = [
        fabricated_run([0.5, 0.8, 0.9, 0.9], repeat=0),  # 2
        fabricated_run([0.5, 0.6, 0.7, 0.85], repeat=1),  # 4
        fabricated_run([0.5, 0.6, 0.7, 0.7], repeat=2),  # never: counts as infinite
    ]
    row = SweepResult(runs, target_score=0.78).configurations[0]
    assert [run["epochs_to_target"] for run in SweepResult(runs, target_score=0.78).runs] == [
        2,
        4,
        None,
    ]
    assert row["epochs_to_target"] == 4  # median of 2, 4, inf
    assert row["target_reached"] == pytest.approx(2 / 3)
    # When most repeats never reach it, the median is not reached either.
    row = SweepResult(runs[1:], target_score=0.78).configurations[0]
    assert row["epochs_to_target"] is None and row["target_reached"] == 0.5
    row = SweepResult(runs).configurations[0]
    assert row["epochs_to_target"] is None and row["target_reached"] is None


def test_final_scores_times_and_updates_of_fabricated_runs():
    runs = [
        fabricated_run([0.5, 0.6], repeat=0, seconds=0.001),
        fabricated_run([0.5, 0.7], repeat=1, seconds=0.003),
        fabricated_run([0.5, 0.9], repeat=2, seconds=0.002, val_score=0.95, diverged=True),
    ]
    result = SweepResult(runs)
    row = result.configurations[0]
    # Final scores come from the run when it has them, else from its last record.
    assert [run["val_score"] for run in result.runs] == [0.6, 0.7, 0.95]
    assert row["val_score"] == pytest.approx(0.7)
    assert row["val_score_spread"] == pytest.approx(
        np.subtract(*np.percentile([0.6, 0.7, 0.95], [75, 25]))
    )
    assert row["train_score"] == pytest.approx(0.71)
    # Per run: median seconds over epochs (1.5x its base); over runs: the median of those.
    assert row["seconds_per_epoch"] == pytest.approx(0.002 * 1.5)
    assert row["updates_per_epoch"] == 13
    assert row["n_diverged"] == 1


# ----------------------------------------------------------------------------------------------
# The scores added to each epoch are the estimator's own


def test_scores_match_the_estimators_own_validation_and_score():
    X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    labels = np.array(["ant", "bee", "cat"])[y]
    binary = np.where(y == 0, "yes", "no")
    multilabel = np.column_stack([y == 0, y != 1]).astype(int)
    Xr, yr = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    yr = yr / yr.std()
    cases = [
        (classifier(alpha=0.01, l1_ratio=0.3, batch_size=8), X, labels),
        (classifier(batch_size=8), X, binary),
        (classifier(batch_size=8), X, multilabel),
        (MiniBatchRegressor((8,), solver="sgd", alpha=0.01, max_iter=EPOCHS, tol=None), Xr, yr),
        (MiniBatchRegressor((8,), loss="huber", max_iter=EPOCHS, tol=None), Xr, yr),
        (MiniBatchRegressor((), loss="absolute_error", max_iter=EPOCHS, tol=None), Xr, yr),
    ]
    for estimator, X_all, y_all in cases:
        X_train, y_train, X_val, y_val = X_all[:150], y_all[:150], X_all[150:], y_all[150:]
        estimator.set_params(random_state=0)
        own = estimator.fit(X_train, y_train, validation_data=(X_val, y_val)).history_
        estimator.set_params(callbacks=[_EpochScores(X_train, y_train, X_val, y_val)])
        ours = estimator.fit(X_train, y_train).history_
        for theirs, mine in zip(own, ours, strict=True):
            assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-9, abs=1e-12)
            assert mine["val_score"] == pytest.approx(theirs["val_score"], rel=1e-12)
        assert ours[-1]["score"] == pytest.approx(estimator.score(X_train, y_train), rel=1e-12)


def test_user_callbacks_still_run():
    class Counter:
        def __init__(self):
            self.calls = 0

        def on_epoch_end(self, estimator, record):
            record["mine"] = record["epoch"] * 10

    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    result = batch_size_sweep(
        classifier(callbacks=[Counter()]), X, y, batch_sizes=[8], random_state=0
    )
    assert [r["mine"] for r in result.runs[0]["history"]] == [10, 20, 30, 40]


# ----------------------------------------------------------------------------------------------
# Validation data and preprocessing


def test_validation_data_forms():
    X, y = make_blobs(n_samples=100, centers=2, random_state=0)
    sweep = dict(batch_sizes=["full"], random_state=0)
    default = batch_size_sweep(classifier(), X, y, **sweep)  # None holds out 20%
    assert (default.n_train, default.n_val) == (80, 20)
    held_out = batch_size_sweep(classifier(), X, y, validation_data=0.3, **sweep)
    assert (held_out.n_train, held_out.n_val) == (70, 30)
    again = batch_size_sweep(classifier(), X, y, validation_data=0.3, **sweep)
    assert without_times(again) == without_times(held_out)  # the split is seeded too
    splitter = ShuffleSplit(n_splits=3, test_size=25, random_state=0)
    split = batch_size_sweep(classifier(), X, y, validation_data=splitter, **sweep)
    assert (split.n_train, split.n_val) == (75, 25)
    given = batch_size_sweep(
        classifier(), X[:60], y[:60], validation_data=(X[60:], y[60:]), **sweep
    )
    assert (given.n_train, given.n_val) == (60, 40)


def test_stratified_hold_out_keeps_class_shares(monkeypatch):
    from skminibatch import _sweep

    X = np.arange(200.0).reshape(100, 2)
    y = np.where(np.arange(100) < 80, 0, 1)
    seen = {}
    original = _sweep._split

    def spy(estimator, X, y, validation_data, rng):
        out = original(estimator, X, y, validation_data, rng)
        seen["y_val"] = out[3]
        return out

    monkeypatch.setattr(_sweep, "_split", spy)
    batch_size_sweep(classifier(max_iter=1), X, y, batch_sizes=[50], validation_data=0.3)
    assert np.bincount(seen["y_val"]).tolist() == [24, 6]


def test_a_pipeline_is_the_same_as_scaling_first(blobs):
    X, y, _, _ = blobs
    params = dict(batch_sizes=[8], random_state=3, validation_data=None)
    piped = batch_size_sweep(make_pipeline(StandardScaler(), classifier()), X, y, **params)
    # With validation_data=None both hold out the same rows; the scaler sees the rest only.
    from sklearn.model_selection import train_test_split

    X_train, X_held, y_train, y_held = train_test_split(
        X, y, test_size=0.2, random_state=np.random.RandomState(3), stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    scaled = batch_size_sweep(
        classifier(),
        scaler.transform(X_train),
        y_train,
        batch_sizes=[8],
        random_state=3,
        validation_data=(scaler.transform(X_held), y_held),
    )
    assert piped.runs[0]["history"][-1]["val_loss"] == scaled.runs[0]["history"][-1]["val_loss"]


# ----------------------------------------------------------------------------------------------
# Parallel runs, progress, divergence


def without_times(result):
    return [
        {
            **{k: v for k, v in run.items() if k not in ("history", "seconds_per_epoch")},
            "history": [{k: v for k, v in r.items() if k != "seconds"} for r in run["history"]],
        }
        for run in result.runs
    ]


def test_parallel_runs_give_the_same_numbers(blobs):
    X, y, X_val, y_val = blobs
    params = dict(
        batch_sizes=[1, 16, "full"],
        validation_data=(X_val, y_val),
        n_repeats=2,
        target_score=0.6,
        random_state=11,
    )
    serial = batch_size_sweep(classifier(), X, y, n_jobs=1, **params)
    parallel = batch_size_sweep(classifier(), X, y, n_jobs=2, **params)
    assert without_times(parallel) == without_times(serial)


def test_verbose_prints_a_line_per_fit(blobs, capsys):
    X, y, _, _ = blobs
    batch_size_sweep(
        classifier(max_iter=1), X, y, batch_sizes=[16, "full"], n_repeats=2, verbose=1
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4
    assert re.match(r"\[batch_size_sweep\] fit 1/4: batch_size=16 learning_rate=0\.01 ", lines[0])
    assert "repeat 2/2" in lines[-1] and "batch_size=full" in lines[-1]


@pytest.mark.parametrize("on_divergence", ["warn", "raise"])  # 'raise' ended the sweep
def test_a_diverging_run_is_counted_and_keeps_its_last_finite_weights(on_divergence):
    X, y = make_regression(n_samples=80, n_features=3, random_state=0)
    reg = MiniBatchRegressor(
        (8,), solver="sgd", learning_rate_init=5.0, max_iter=EPOCHS, tol=None, alpha=0.0
    )
    reg.set_params(on_divergence=on_divergence)
    result = batch_size_sweep(reg, X, y * 100, batch_sizes=[1], n_repeats=2, random_state=0)
    row = result.configurations[0]
    assert row["n_diverged"] == 2
    assert all(run["diverged"] and run["n_epochs"] < EPOCHS for run in result.runs)
    assert all(np.isfinite(run["val_score"]) for run in result.runs)


# ----------------------------------------------------------------------------------------------
# to_frame and plot


def test_to_frame_with_pandas(grid):
    pd = pytest.importorskip("pandas")
    frame = grid.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 6
    assert {
        "batch_size",
        "learning_rate",
        "train_score",
        "train_score_spread",
        "val_score",
        "val_score_spread",
        "volatility",
        "epochs_to_target",
        "seconds_per_epoch",
        "updates_per_epoch",
    } <= set(frame.columns)
    assert frame["batch_size"].tolist() == [1, 1, 16, 16, "full", "full"]
    runs = grid.to_frame("runs")
    assert len(runs) == 18 and "history" not in runs.columns
    epochs = grid.to_frame("epochs")
    assert len(epochs) == 18 * EPOCHS
    assert {"repeat", "random_state", "epoch", "val_score", "score"} <= set(epochs.columns)
    with pytest.raises(ValueError, match="level"):
        grid.to_frame("batches")


def test_to_frame_without_pandas_gives_a_list_of_dicts(grid, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    rows = grid.to_frame()
    assert isinstance(rows, list) and len(rows) == 6
    assert rows == grid.configurations and rows[0] is not grid.configurations[0]
    assert isinstance(grid.to_frame("epochs"), list)


def test_plot_writes_a_png_with_one_shared_y_axis(grid, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    figure = grid.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    panels = [ax for ax in figure.axes if ax.get_title().startswith("batch=")]
    assert len(panels) == 6  # one per batch size and learning rate
    shared = panels[0].get_shared_y_axes()
    assert all(shared.joined(panels[0], ax) for ax in panels[1:])
    assert len({ax.get_ylim() for ax in panels}) == 1
    (summary,) = [ax for ax in figure.axes if ax.get_title().startswith("Final score")]
    assert summary.get_xscale() == "log" and summary.get_xlabel().startswith("batch size")
    assert not shared.joined(panels[0], summary)
    loss_figure = grid.plot(metric="loss")
    assert loss_figure.axes[0].get_ylabel() == "loss"


def test_auto_batch_size_is_swept_and_drawn_at_its_size(blobs, tmp_path):
    X, y, X_val, y_val = blobs  # 100 training rows: 'auto' is min(200, 100), one update
    result = batch_size_sweep(
        classifier(), X, y, batch_sizes=[8, "auto"], validation_data=(X_val, y_val)
    )
    assert [row["batch_size"] for row in result.configurations] == [8, "auto"]
    assert [row["updates_per_epoch"] for row in result.configurations] == [13, 1]
    assert result.histories("auto")[0][0]["batch_size"] == 100
    pytest.importorskip("matplotlib")
    figure = result.plot(tmp_path / "auto.png")
    (summary,) = [ax for ax in figure.axes if ax.get_title().startswith("Final score")]
    assert [label.get_text() for label in summary.get_xticklabels()] == ["8", "\nauto (100)"]


def test_plot_without_matplotlib_names_the_extra(grid, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=re.escape("pip install matplotlib")):
        grid.plot()


# ----------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(batch_sizes=[]), "batch_sizes"),
        (dict(batch_sizes=32), "batch_sizes"),
        (dict(batch_sizes=[0, 8]), "batch_sizes"),
        (dict(batch_sizes=[8, 8]), "batch_sizes"),
        (dict(batch_sizes=["half"]), "batch_sizes"),
        (dict(batch_sizes=[True]), "batch_sizes"),
        (dict(learning_rates=[]), "learning_rates"),
        (dict(learning_rates=[0.0]), "learning_rates"),
        (dict(learning_rates=0.1), "learning_rates"),
        (dict(n_repeats=0), "n_repeats"),
        (dict(n_repeats=1.5), "n_repeats"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(verbose=-1), "verbose"),
        (dict(target_score="high"), "target_score"),
        (dict(volatility_window=0.0), "volatility_window"),
        (dict(volatility_window=1.5), "volatility_window"),
        (dict(random_state=-1), "random_state"),
        (dict(random_state="seed"), "random_state"),
        (dict(validation_data=1.0), "validation_data"),
        (dict(validation_data=0.0), "validation_data"),
        (dict(validation_data="20%"), "validation_data"),
        (dict(validation_data=(np.zeros((3, 2)),)), "validation_data"),
        (dict(validation_data=(np.zeros((3, 2)), [0, 1])), "validation_data"),
        (dict(validation_data=(np.zeros((3, 2)), [0, 1, 9])), "validation_data"),
        (dict(validation_data=(np.zeros((3, 2)), np.eye(3))), r"y_val has shape \(3, 3\)"),
        (dict(progress=3), "progress"),
    ],
)
def test_bad_parameters_raise_a_value_error_naming_them(blobs, params, match):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match=match):
        batch_size_sweep(classifier(), X, y, **params)


def test_bad_estimators_and_data_are_rejected(blobs):
    from sklearn.linear_model import LogisticRegression

    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="estimator must be"):
        batch_size_sweep(LogisticRegression(), X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        batch_size_sweep(classifier(early_stopping=True), X, y)
    with pytest.raises(ValueError, match="different numbers of samples"):
        batch_size_sweep(classifier(), X, y[:-1])
    with pytest.raises(ValueError, match=r"validation_data=0\.5: cannot hold out"):
        batch_size_sweep(classifier(), X[:5], [0, 0, 0, 0, 1], validation_data=0.5)


def test_the_result_class_checks_its_own_arguments():
    with pytest.raises(ValueError, match="task"):
        SweepResult([], task="ranking")
    with pytest.raises(ValueError, match="volatility_window"):
        SweepResult([], volatility_window=2)


@given(
    st.floats(min_value=1e-6, max_value=1e6),
    st.floats(min_value=1.0, max_value=1e3),
)
@example(low=6.103515625e-05, ratio=1.0)  # 2 * 10.0**-5 above NumPy's 2e-05: one label
def test_the_time_axis_always_shows_two_labelled_ticks(low, ratio):
    """The summary panel's log axis labels 1, 2 and 5 times powers of ten only: its limits
    must hold two of them, however narrow the range of times (one label was unreadable)."""
    high = low * ratio
    new_low, new_high = _one_two_five_span(low, high)
    assert new_low <= low and high <= new_high
    powers = np.arange(math.floor(math.log10(new_low)), math.ceil(math.log10(new_high)) + 1)
    labelled = [m * 10.0**p for p in powers for m in (1, 2, 5)]
    shown = [v for v in labelled if new_low <= v <= new_high and _one_two_five(v, None)]
    assert len(shown) >= 2
