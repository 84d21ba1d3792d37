"""Per-epoch callbacks: the ``callbacks`` parameter and scikit-learn's callback API.

Our callbacks (the ``callbacks`` parameter) are tested on every supported scikit-learn.
scikit-learn's own callbacks (``set_callbacks``, ``ProgressBar``, ``ScoringMonitor``) exist
from scikit-learn 1.9 on: their tests are skipped before, saying so.
"""

import copy
import pickle
import re
import warnings
from unittest import mock

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_blobs, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skminibatch import DivergenceWarning, MiniBatchMLPClassifier, MiniBatchRegressor
from skminibatch._callbacks import (
    CallbackSupportMixin,
    EpochCallbacks,
    check_callbacks,
    with_callbacks,
)

X, y = make_blobs(n_samples=60, centers=3, random_state=0)
X_reg, y_reg = make_regression(n_samples=60, n_features=3, random_state=0)
SMALL = dict(hidden_layer_sizes=(4,), batch_size=16, max_iter=5, tol=None, random_state=0)


def _sklearn_callback():
    return pytest.importorskip(
        "sklearn.callback", reason="scikit-learn's callbacks need scikit-learn >= 1.9"
    )


def _progress_bar(**params):
    _sklearn_callback()
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    return ProgressBar(**params)


@pytest.fixture
def wide_output(monkeypatch):
    """rich fits the bars to the terminal width: room for the longest description."""
    monkeypatch.setenv("COLUMNS", "200")


class RecordEpochs:
    """Our callback: keeps every record and estimator; asks to stop at epoch ``stop_at``."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.records = []
        self.estimators = []
        self.weights = []

    def on_epoch_end(self, estimator, record):
        self.records.append(record)
        self.estimators.append(estimator)
        coefs = getattr(estimator, "coefs_", None)
        self.weights.append(None if coefs is None else coefs[0].copy())
        return self.stop_at is not None and record["epoch"] >= self.stop_at


class AddScore:
    """Our callback adding a key to each record."""

    def on_epoch_end(self, estimator, record):
        record["train_score"] = estimator.score(X, y)


class RecordTasks:
    """A scikit-learn callback that records its hooks; asks to stop after epoch ``stop_at``."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.events = []

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self.events.append(("begin", context.task_name, context.max_subtasks, fitted_estimator))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id, fitted_estimator))
        return context.task_name == "epoch" and context.task_id + 1 == self.stop_at

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name))

    def names(self):
        return [event[:2] for event in self.events]


# Our callbacks: the ``callbacks`` parameter.


def test_callback_gets_one_record_per_epoch():
    callback = RecordEpochs()
    clf = MiniBatchMLPClassifier(**SMALL, callbacks=[callback]).fit(X, y)
    assert [record["epoch"] for record in callback.records] == [1, 2, 3, 4, 5]
    assert all(a is b for a, b in zip(callback.records, clf.history_, strict=True))
    # The estimator itself, holding the weights of the epoch just finished.
    assert all(estimator is clf for estimator in callback.estimators)
    assert_array_equal(callback.weights[-1], clf.coefs_[0])
    assert not np.array_equal(callback.weights[0], clf.coefs_[0])


def test_callbacks_see_the_epoch_the_stopper_stops_at():
    callback = RecordEpochs()
    clf = MiniBatchMLPClassifier(**{**SMALL, "max_iter": 50, "tol": 10.0, "n_iter_no_change": 1})
    clf.set_params(callbacks=[callback]).fit(X, y)
    assert clf.n_iter_ < 50
    assert len(callback.records) == clf.n_iter_


def test_callback_stops_training():
    callback = RecordEpochs(stop_at=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MiniBatchMLPClassifier(**{**SMALL, "tol": 1e-4}, callbacks=[callback]).fit(X, y)
    assert clf.n_iter_ == 2
    assert len(callback.records) == 2


def test_callbacks_do_not_change_training():
    plain = MiniBatchMLPClassifier(**SMALL).fit(X, y)
    clf = MiniBatchMLPClassifier(**SMALL, callbacks=[RecordEpochs(), AddScore()]).fit(X, y)
    for a, b in zip(plain.coefs_, clf.coefs_, strict=True):
        assert_array_equal(a, b)


def test_callback_keys_are_kept_in_history():
    clf = MiniBatchMLPClassifier(**SMALL, callbacks=[AddScore()]).fit(X, y)
    assert len(clf.history_["train_score"]) == 5
    assert clf.history_["train_score"][-1] == clf.score(X, y)


def test_partial_fit_is_one_epoch():
    callback = RecordEpochs()
    reg = MiniBatchRegressor(**SMALL, callbacks=[callback])
    for _ in range(3):
        reg.partial_fit(X_reg, y_reg)
    assert [record["epoch"] for record in callback.records] == [1, 2, 3]


@pytest.mark.parametrize("bad", [object(), RecordEpochs, "on_epoch_end"])
def test_bad_callback(bad):
    with pytest.raises(TypeError, match="on_epoch_end"):
        MiniBatchMLPClassifier(**SMALL, callbacks=[bad]).fit(X, y)


def test_sklearn_callback_passed_as_ours():
    with pytest.raises(TypeError, match=re.escape("set_callbacks(")):
        check_callbacks([RecordTasks()])


class _Loop(CallbackSupportMixin, BaseEstimator):
    """Drives EpochCallbacks as the training loop is to, ``on_epoch_begin`` included."""

    def __init__(self, callbacks=None):
        self.callbacks = callbacks

    @with_callbacks
    def fit(self, X=None, y=None):
        weight = [0]
        callbacks = EpochCallbacks(
            self, self.callbacks, X=X, y=y, fitted_attributes=lambda: {"w_": weight[0]}
        )
        callbacks.on_fit_begin(3)
        for epoch in range(1, 4):
            callbacks.on_epoch_begin()
            weight[0] += 1
            if callbacks.on_epoch_end({"epoch": epoch}):
                break
        self.w_ = weight[0]
        callbacks.on_fit_end()
        return self


class RecordW:
    def __init__(self):
        self.w = []

    def on_epoch_end(self, estimator, record):
        self.w.append(estimator.w_)


def test_epoch_begin_and_end_see_the_weights_before_and_after():
    _sklearn_callback()
    tasks, ours = RecordTasks(), RecordW()
    _Loop(callbacks=[ours]).set_callbacks(tasks).fit()
    begins = [event[3].w_ for event in tasks.events if event[:2] == ("begin", "epoch")]
    ends = [event[3].w_ for event in tasks.events if event[:2] == ("end", "epoch")]
    assert begins == [0, 1, 2]
    assert ends == ours.w == [1, 2, 3]


def test_without_sklearn_callback_support():
    """An estimator without ``_init_callback_context`` only gets our callbacks."""
    callback = RecordEpochs(stop_at=1)
    estimator = object()
    callbacks = EpochCallbacks(estimator, [callback])
    callbacks.on_fit_begin(3)
    callbacks.on_epoch_begin()
    assert callbacks.on_epoch_end({"epoch": 1})
    callbacks.on_fit_end()
    assert callback.estimators == [estimator]


# scikit-learn's callbacks: set_callbacks, task tree, ProgressBar, ScoringMonitor.


def test_sklearn_task_tree():
    _sklearn_callback()
    callback = RecordTasks()
    clf = MiniBatchMLPClassifier(**SMALL).set_callbacks(callback).fit(X, y)
    assert callback.names() == [
        ("setup", "fit"),
        ("begin", "fit"),
        *[("begin", "epoch"), ("end", "epoch")] * 5,
        ("end", "fit"),
        ("teardown", "fit"),
    ]
    assert callback.events[1][2] == 5  # max_subtasks: one per epoch
    epoch_ends = [event for event in callback.events if event[:2] == ("end", "epoch")]
    assert [event[2] for event in epoch_ends] == [0, 1, 2, 3, 4]
    # fitted_estimator: the weights at the end of each epoch; the last ones are the final.
    assert_array_equal(epoch_ends[-1][3].coefs_[0], clf.coefs_[0])
    assert not np.array_equal(epoch_ends[0][3].coefs_[0], clf.coefs_[0])
    for name in ("_callback_fit_ctx", "_skl_callbacks_to_teardown"):
        assert not hasattr(clf, name)


def test_sklearn_callback_stops_training():
    _sklearn_callback()
    clf = MiniBatchMLPClassifier(**SMALL).set_callbacks(RecordTasks(stop_at=2)).fit(X, y)
    assert clf.n_iter_ == 2


def test_divergence_closes_the_open_epoch():
    _sklearn_callback()
    tasks, epochs = RecordTasks(), RecordEpochs()
    reg = MiniBatchRegressor(
        **{**SMALL, "solver": "sgd", "learning_rate_init": 1e3}, callbacks=[epochs]
    ).set_callbacks(tasks)
    with pytest.warns(DivergenceWarning):
        reg.fit(X_reg * 100, y_reg * 100)
    names = tasks.names()
    # Every epoch task begun is ended, that of the diverged epoch too if the loop began it.
    assert names.count(("begin", "epoch")) == names.count(("end", "epoch"))
    assert names.count(("end", "epoch")) in (reg.n_iter_, reg.n_iter_ + 1)
    assert names[-2:] == [("end", "fit"), ("teardown", "fit")]
    assert len(epochs.records) == reg.n_iter_


def test_progressbar_progress(capsys, wide_output):
    progress_bar = _progress_bar()
    from sklearn.callback._progressbar import RichProgressMonitor

    progress = []
    on_task_end = RichProgressMonitor._on_task_end

    def record_progress(self, task_info):
        on_task_end(self, task_info)
        progress.append(self.root_rich_task.progress)

    with mock.patch.object(RichProgressMonitor, "_on_task_end", record_progress):
        MiniBatchMLPClassifier(**SMALL).set_callbacks(progress_bar).fit(X, y)
        MiniBatchMLPClassifier(**SMALL, callbacks=[RecordEpochs(stop_at=2)]).set_callbacks(
            progress_bar
        ).fit(X, y)
    # One step per epoch, then 100% at the end of fit, also when stopped early.
    np.testing.assert_allclose(progress, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.2, 0.4, 1.0])
    out = capsys.readouterr().out
    assert "MiniBatchMLPClassifier - fit" in out
    assert "100%" in out


def test_progressbar_in_pipeline(capsys, wide_output):
    progress_bar = _progress_bar(max_propagation_depth=None)
    pipe = make_pipeline(StandardScaler(), MiniBatchMLPClassifier(**SMALL))
    pipe.set_callbacks(progress_bar).fit(X, y)
    out = capsys.readouterr().out
    assert "Pipeline - fit-final-estimator | MiniBatchMLPClassifier - fit" in out
    assert not re.search(r"\b[0-9]{1,2}%", out)  # every bar at 100%
    # The propagated callback is removed from the step after fit.
    assert not hasattr(pipe[-1], "_skl_callbacks")


def test_progressbar_in_grid_search(capsys, wide_output):
    progress_bar = _progress_bar()
    search = GridSearchCV(MiniBatchMLPClassifier(**SMALL), {"batch_size": [8, 16]}, cv=2)
    search.set_callbacks(progress_bar).fit(X, y)
    out = capsys.readouterr().out
    assert "GridSearchCV - candidate-split-evaluation | MiniBatchMLPClassifier - fit" in out
    assert "GridSearchCV - refit-with-best-params | MiniBatchMLPClassifier - fit" in out
    assert not re.search(r"\b[0-9]{1,2}%", out)


def test_scoring_monitor():
    _sklearn_callback()
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    clf = MiniBatchMLPClassifier(**SMALL).set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2, 3, 4]
    assert epochs[-1]["accuracy"] == clf.score(X, y)
    assert [row["task_name"] for row in rows if len(row["task_id_path"]) == 1] == ["fit"]


def test_scoring_monitor_in_grid_search_and_on_a_dataframe():
    _sklearn_callback()
    pd = pytest.importorskip("pandas")
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    scaler = StandardScaler().set_output(transform="pandas")
    pipe = Pipeline(
        [("scaler", scaler), ("clf", MiniBatchMLPClassifier(**SMALL).set_callbacks(monitor))]
    )
    frame = pd.DataFrame(X, columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "X does not have feature names"
        GridSearchCV(pipe, {"clf__batch_size": [8, 16]}, cv=2).fit(frame, y)
    rows = monitor.get_logs().data
    # 2 candidates x 2 folds + refit, each 5 epochs and its fit task.
    assert sum(row["task_name"] == "epoch" for row in rows) == 5 * 5
    assert sum(row["task_name"] == "fit" for row in rows) == 5


# clone and pickle


def test_clone():
    _sklearn_callback()
    ours, theirs = RecordEpochs(), RecordTasks()
    clf = MiniBatchMLPClassifier(**SMALL, callbacks=[ours]).set_callbacks(theirs)
    cloned = clone(clf)
    # scikit-learn's callbacks are shared by reference; ours, a parameter, are deep-copied.
    assert cloned._skl_callbacks[0] is theirs
    assert cloned.callbacks[0] is not ours
    assert isinstance(cloned.callbacks[0], RecordEpochs)
    cloned.fit(X, y)
    assert len(cloned.callbacks[0].records) == 5
    assert ours.records == []
    assert theirs.names().count(("end", "epoch")) == 5


def test_pickle():
    _sklearn_callback()
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    try:  # with a ProgressBar too when rich is installed
        pytest.importorskip("rich")
        sklearn_callbacks = [monitor, _progress_bar()]
    except pytest.skip.Exception:
        sklearn_callbacks = [monitor]
    clf = MiniBatchMLPClassifier(**SMALL, callbacks=[RecordEpochs()]).set_callbacks(
        *sklearn_callbacks
    )
    clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert len(restored.callbacks[0].records) == 5
    restored.fit(X, y)  # the restored callbacks work
    assert len(restored._skl_callbacks[0].get_logs().data) == 6
    assert_array_equal(copy.deepcopy(clf).coefs_[0], clf.coefs_[0])
