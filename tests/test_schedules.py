"""skminibatch.schedules: closed forms, torch's schedulers, scikit-learn's rules, properties."""

import copy
import math
import pickle
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor, schedules
from skminibatch.schedules import (
    Constant,
    Cosine,
    ExponentialDecay,
    GrowBatchSize,
    GrowBatchSizeOnPlateau,
    InverseScaling,
    OneCycle,
    ReduceOnPlateau,
    StepDecay,
    Warmup,
    as_schedule,
    check_batch_size,
    scale_learning_rate,
)


def per_update(schedule, n, start=0):
    """The multipliers of updates start .. start + n - 1 (epoch 0, no history)."""
    return schedule.multipliers(np.arange(start, start + n), 0, [])


def per_epoch(schedule, n_epochs, history=None):
    """The multiplier of each of epochs 0 .. n_epochs - 1 (one update each)."""
    history = [] if history is None else history
    return np.array([schedule.multipliers([e], e, history[:e])[0] for e in range(n_epochs)])


# ---------------------------------------------------------------------------------------------
# Closed forms, written independently of the module
# ---------------------------------------------------------------------------------------------


def test_constant_is_one_everywhere():
    assert per_update(Constant(), 5, start=100).tolist() == [1.0] * 5
    assert Constant().multipliers(np.zeros(0, np.int64), 7, []).shape == (0,)


def test_inverse_scaling_closed_forms():
    expected = [1 / math.sqrt(t + 1) for t in range(6)]
    np.testing.assert_allclose(per_epoch(InverseScaling(), 6), expected, rtol=1e-15)
    np.testing.assert_allclose(
        per_update(InverseScaling(power_t=0.25, per="update"), 4, start=10),
        [(t + 1) ** -0.25 for t in range(10, 14)],
        rtol=1e-15,
    )
    history = [{"n_samples": 100}, {"n_samples": 50}]
    got = InverseScaling(power_t=1.0, per="sample").multipliers([0, 1, 2], 2, history)
    np.testing.assert_allclose(got, [1 / 151] * 3, rtol=1e-15)
    assert per_epoch(InverseScaling(power_t=0.0), 3).tolist() == [1.0, 1.0, 1.0]


def test_step_decay_closed_form():
    schedule = StepDecay(step_size=3, gamma=0.5, per="update")
    np.testing.assert_allclose(
        per_update(schedule, 10), [0.5 ** math.floor(t / 3) for t in range(10)], rtol=1e-15
    )
    assert per_epoch(StepDecay(), 21)[[0, 9, 10, 19, 20]] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01], rel=1e-14
    )
    # per='epoch': one value for the whole epoch, whatever the update indices.
    assert StepDecay(step_size=2).multipliers(np.arange(50, 60), 3, []).tolist() == [0.1] * 10


def test_exponential_decay_closed_form():
    np.testing.assert_allclose(
        per_epoch(ExponentialDecay(gamma=0.9), 8), [0.9**t for t in range(8)], rtol=1e-14
    )
    np.testing.assert_allclose(
        per_update(ExponentialDecay(0.5, per="update"), 4, start=2), [1 / 4, 1 / 8, 1 / 16, 1 / 32]
    )


@pytest.mark.parametrize("low", [0.0, 0.1])
def test_cosine_closed_form_and_flat_after_period(low):
    period = 8
    got = per_update(Cosine(period=period, min_multiplier=low, per="update"), 14)
    expected = [
        low + (1 - low) * (1 + math.cos(math.pi * min(t, period) / period)) / 2 for t in range(14)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-16)
    assert got[0] == 1.0
    assert got[period:].tolist() == [low] * (14 - period)
    assert got[period // 2] == pytest.approx(low + (1 - low) / 2, rel=1e-14)


@pytest.mark.parametrize(("period", "mult"), [(5, 1), (2, 2), (3, 3), (1, 2)])
def test_cosine_with_restarts_follows_sgdr(period, mult):
    # SGDR (Loshchilov and Hutter 2017) step by step: restart when the cycle is over.
    expected, t_cur, t_i = [], 0, period
    for _ in range(150):
        expected.append(0.05 + 0.95 * (1 + math.cos(math.pi * t_cur / t_i)) / 2)
        t_cur += 1
        if t_cur == t_i:
            t_cur, t_i = 0, t_i * mult
    schedule = Cosine(period, min_multiplier=0.05, restarts=True, period_mult=mult, per="update")
    np.testing.assert_allclose(per_update(schedule, 150), expected, rtol=1e-13)
    # Any window of steps gives the same values as the whole run.
    np.testing.assert_allclose(per_update(schedule, 40, start=77), expected[77:117], rtol=1e-13)


def test_cosine_cycle_boundaries_are_exact_for_large_steps():
    schedule = Cosine(period=3, restarts=True, period_mult=2, per="update")
    starts = np.array([3 * (2**n - 1) for n in range(1, 40)])  # cycle n starts here
    assert schedule.multipliers(starts, 0, []).tolist() == [1.0] * starts.size
    # The step before cycle n starts is the last of cycle n - 1, of length 3 * 2 ** (n - 1).
    lengths = 3 * 2 ** np.arange(0, 39)
    np.testing.assert_allclose(
        schedule.multipliers(starts - 1, 0, []),
        (1 + np.cos(np.pi * (lengths - 1) / lengths)) / 2,
        rtol=1e-9,
    )


def test_warmup_closed_form_and_composition():
    got = per_update(Warmup(warmup=4, start_multiplier=0.2), 7)
    np.testing.assert_allclose(got, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0], rtol=1e-15)
    # The wrapped schedule sees the same steps: it is not delayed by the warm-up.
    inner = StepDecay(step_size=2, gamma=0.5, per="update")
    got = per_update(Warmup(inner, warmup=4), 7)
    np.testing.assert_allclose(got, [0, 0.25, 0.25, 0.375, 0.25, 0.25, 0.125], rtol=1e-15)
    assert per_update(Warmup(inner, warmup=0), 5).tolist() == per_update(inner, 5).tolist()
    epochs = Warmup(warmup=2, per="epoch", start_multiplier=0.5)
    assert epochs.multipliers(np.arange(30, 33), 1, []).tolist() == [0.75] * 3


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_closed_form(anneal):
    # total=10, pct_start=0.5: up over steps 0..4, down over 4..9.
    a, z = 1 / 20, 1 / 20 / 100

    def interpolate(start, end, pct):
        if anneal == "linear":
            return start + (end - start) * pct
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2

    expected = [interpolate(a, 1, t / 4) for t in range(5)]
    expected += [interpolate(1, z, (t - 4) / 5) for t in range(5, 10)]
    expected += [z, z]  # after the cycle
    schedule = OneCycle(10, pct_start=0.5, div_factor=20, final_div_factor=100, anneal=anneal)
    got = per_update(schedule, 12)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.max() == 1.0 == got[4]
    assert got[0] == pytest.approx(a) and got[9] == pytest.approx(z)


def test_one_cycle_per_epoch():
    schedule = OneCycle(total=5, pct_start=0.4, div_factor=10, per="epoch")
    assert schedule.multipliers(np.arange(100, 120), 1, []).tolist() == [1.0] * 20


# ---------------------------------------------------------------------------------------------
# Plateaus: scikit-learn's 'adaptive' rule replayed
# ---------------------------------------------------------------------------------------------


def records(losses, key="loss"):
    return [{"epoch": i + 1, key: value} for i, value in enumerate(losses)]


def test_reduce_on_plateau_replays_sklearn_adaptive_on_hand_made_history():
    # tol=0.01, patience=1: a plateau is two epochs in a row not beating the best by 0.01.
    losses = [1.0, 0.5, 0.495, 0.489, 0.3, 0.3, 0.3, 0.3, 0.3, 0.2]
    #  epoch:  0    1    2      3      4    5    6    7    8    9
    # 2: 0.495 > 0.5 - 0.01: bad (1); the best becomes 0.495 even so (scikit-learn's best_loss_
    # is the running minimum). 3: 0.489 > 0.495 - 0.01: bad (2) -> divide by 5, count = 0.
    # (torch would keep best = 0.5 and count 0.489 <= 0.49 as an improvement.)
    # 4: improvement. 5, 6: bad -> divide. 7, 8: bad -> divide. 9: improvement.
    expected_after = [1, 1, 1, 1, 0.2, 0.2, 0.2, 0.04, 0.04, 0.008, 0.008]
    schedule = ReduceOnPlateau(factor=0.2, patience=1, threshold=0.01)
    history = records(losses)
    got = [schedule.multipliers([0], len(h), h)[0] for h in (history[:k] for k in range(11))]
    np.testing.assert_allclose(got, expected_after, rtol=1e-14)
    ends = [schedule.ends_plateau(history[: k + 1]) for k in range(10)]
    assert [k for k, end in enumerate(ends) if end] == [3, 6, 8]
    assert not schedule.ends_plateau([])
    # patience=2 needs three bad epochs in a row: only epochs 5, 6, 7.
    schedule = ReduceOnPlateau(patience=2, threshold=0.01)
    assert schedule.multipliers([0], 10, history)[0] == pytest.approx(0.2)
    assert [k for k in range(10) if schedule.ends_plateau(history[: k + 1])] == [7]


def test_reduce_on_plateau_ties_minimum_and_monitors():
    # An improvement of exactly the threshold counts (scikit-learn: loss > best - tol is bad).
    tie = records([0.5, 0.25, 0.0])
    assert ReduceOnPlateau(patience=0, threshold=0.25).multipliers([0], 3, tie)[0] == 1.0
    assert ReduceOnPlateau(patience=0, threshold=0.3).multipliers([0], 3, tie)[0] == 0.2**2
    # Scores must increase.
    scores = records([0.5, 0.6, 0.59, 0.58, 0.7], key="val_score")
    schedule = ReduceOnPlateau(patience=1, threshold=0.0, monitor="val_score")
    assert schedule.multipliers([0], 5, scores)[0] == pytest.approx(0.2)
    # 'auto' follows val_loss when every record has it, else the training loss.
    both = [{"loss": 1.0 - 0.1 * i, "val_loss": 1.0} for i in range(4)]
    assert ReduceOnPlateau(patience=0).multipliers([0], 4, both)[0] == pytest.approx(0.2**3)
    assert ReduceOnPlateau(monitor="loss", patience=0).multipliers([0], 4, both)[0] == 1.0
    assert ReduceOnPlateau(patience=0).multipliers([0], 5, [*both, {"loss": 0.5}])[0] == 1.0
    # The floor, and NaN records (epochs without updates) skipped.
    flat = records([1.0] * 20)
    assert ReduceOnPlateau(min_multiplier=0.01).multipliers([0], 20, flat)[0] == 0.01
    gaps = records([1.0, float("nan"), float("nan"), 0.5])
    assert ReduceOnPlateau(patience=0).multipliers([0], 4, gaps)[0] == 1.0


def test_a_warmed_up_reduce_on_plateau_decides_when_fit_stops_as_it_does_alone():
    """With no warm-up, Warmup multiplies by exactly 1: the two fits must be the same, epoch
    for epoch, the plateaus lowering the rate until it is at most 1e-6."""
    X, y = make_regression(n_samples=100, n_features=3, noise=1, random_state=0)
    y = y / y.std()
    plateau = ReduceOnPlateau(patience=1, threshold=10.0)
    assert Warmup(plateau).ends_plateau == plateau.ends_plateau
    assert Warmup(StepDecay()).ends_plateau is None
    params = dict(learning_rate_init=0.01, tol=10.0, n_iter_no_change=4, max_iter=500)
    fits = [
        MiniBatchRegressor((4,), learning_rate=schedule, random_state=0, **params).fit(X, y)
        for schedule in (plateau, Warmup(clone(plateau), warmup=0))
    ]
    alone, warmed_up = (fit.history_["learning_rate"] for fit in fits)
    assert warmed_up == alone and alone[-1] <= 1e-6 and len(set(alone)) > 3


def test_lowers_rate_is_false_at_the_floor_and_passed_through_a_warm_up():
    history = records([1.0, 1.0, 1.0, 1.0, 1.0])  # a plateau ends at epochs 3 and 5
    plateau = ReduceOnPlateau(factor=0.5, patience=1, min_multiplier=0.5)
    assert plateau.ends_plateau(history[:3]) and plateau.lowers_rate(history[:3], 0.1)
    assert not plateau.lowers_rate(history[:3], 1e-6)  # scikit-learn's floor on the rate
    assert plateau.ends_plateau(history) and not plateau.lowers_rate(history, 0.1)  # at 0.5
    assert Warmup(plateau).lowers_rate == plateau.lowers_rate
    assert Warmup(StepDecay()).lowers_rate is None


def test_a_plateau_during_the_warm_up_lowers_the_rate_without_stopping_fit():
    """The warm-up raises the rate faster than the plateaus lower it: fit must not take that
    for a rate that cannot be lowered. Every epoch after the first fails (threshold 10), so the
    schedule alone lowers the rate every other epoch and never stops within max_iter."""
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = X @ [1.0, -2.0, 0.5, 3.0]
    plateau = ReduceOnPlateau(factor=0.8, patience=1, threshold=10.0)
    warm = Warmup(clone(plateau), warmup=10, per="epoch", start_multiplier=0.1)
    params = dict(solver="sgd", learning_rate_init=0.01, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        alone, warmed_up = (
            MiniBatchRegressor((), learning_rate=schedule, **params).fit(X, y)
            for schedule in (plateau, warm)
        )
    assert alone.n_iter_ == warmed_up.n_iter_ == 30
    ramp = np.minimum(0.1 + 0.9 * np.arange(30) / 10, 1.0)
    plateaus = np.maximum(np.arange(30) - 1, 0) // 2  # ended by epochs 3, 5, ... (1-based)
    expected = 0.01 * ramp * 0.8**plateaus
    np.testing.assert_allclose(warmed_up.history_["learning_rate"], expected, rtol=1e-12)


def test_a_warm_up_from_zero_does_not_trip_the_1e_6_rule():
    """scikit-learn stops 'adaptive' at a plateau once its rate is at most 1e-6; a warm-up
    from 0 starts below that, and must not stop fit at the first plateau."""
    X, y = make_classification(n_samples=300, random_state=0)
    schedule = Warmup(ReduceOnPlateau(patience=0), warmup=1000)
    clf = MiniBatchMLPClassifier(
        (10,), batch_size="full", learning_rate=schedule, learning_rate_init=1e-3, max_iter=30
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(random_state=0).fit(X, y)
    assert clf.history_["learning_rate"][0] == 0.0
    # It stopped (the near-zero rates train nothing: every epoch ends a plateau) only once the
    # plateau schedule's own rate was at most 1e-6: five divisions by 5, epochs 2 to 6.
    plateau_rate = 1e-3 * schedule.schedule.multipliers([0], 0, clf.history_[:-1])[0]
    assert clf.n_iter_ == 7 and plateau_rate == pytest.approx(1e-3 * 0.2**5)


def test_as_schedule_adaptive_is_sklearn_mlp_learning_rate_epoch_by_epoch():
    X, y = make_regression(60, 4, noise=20, random_state=0)
    reg = MLPRegressor(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        tol=0.02,
        n_iter_no_change=1,
        batch_size=10,
        random_state=0,
    )
    schedule = as_schedule("adaptive", tol=0.02, n_iter_no_change=1)
    y = y / y.std()
    n_epochs = 0
    while n_epochs < 100:
        reg.partial_fit(X, y)
        n_epochs += 1
        history = records(reg.loss_curve_)
        ours = schedule.multipliers([0], len(history), history)[0]
        assert ours == pytest.approx(reg._optimizer.learning_rate / 0.05, rel=1e-12)
        if reg._optimizer.learning_rate <= 1e-6:
            break  # scikit-learn now stops (fit) or keeps this rate (partial_fit)
    assert 10 < n_epochs < 100 and reg._optimizer.learning_rate < 0.05 / 5**5


@pytest.mark.parametrize("max_iter", [10, 14])
def test_as_schedule_adaptive_with_early_stopping_follows_validation_score(max_iter):
    X, y = make_classification(200, 5, random_state=0)
    clf = MLPClassifier(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.5,
        tol=0.01,
        n_iter_no_change=1,
        early_stopping=True,
        max_iter=max_iter,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == max_iter and clf._optimizer.learning_rate < 0.5 / 5
    history = [
        {"loss": loss, "val_score": score}
        for loss, score in zip(clf.loss_curve_, clf.validation_scores_, strict=True)
    ]
    schedule = as_schedule(
        "adaptive", tol=0.01, n_iter_no_change=1, early_stopping=True, monitor="val_score"
    )
    ours = schedule.multipliers([0], max_iter, history)[0]
    assert ours == pytest.approx(clf._optimizer.learning_rate / 0.5, rel=1e-12)


def test_as_schedule_invscaling_is_sklearn_mlp_learning_rate_epoch_by_epoch():
    X, y = make_regression(37, 3, random_state=0)
    reg = MLPRegressor(
        hidden_layer_sizes=(3,),
        solver="sgd",
        learning_rate="invscaling",
        power_t=0.3,
        learning_rate_init=1e-3,
        random_state=0,
    )
    schedule = as_schedule("invscaling", power_t=0.3)
    history = []
    for epoch in range(4):
        assert schedule.multipliers([0, 1], epoch, history).tolist() == pytest.approx(
            [(reg._optimizer.learning_rate / 1e-3) if epoch else 1.0] * 2, rel=1e-12
        )
        reg.partial_fit(X, y / y.std())
        history.append({"loss": reg.loss_, "n_samples": X.shape[0]})


# ---------------------------------------------------------------------------------------------
# Batch-size schedules and the scaling rule
# ---------------------------------------------------------------------------------------------


def test_grow_batch_size_milestones():
    schedule = GrowBatchSize(initial=10, factor=3, epochs=(5, 2, 5))  # 5 twice: factor 9
    sizes = [schedule.batch_size(e, [], 1000) for e in range(7)]
    assert sizes == [10, 10, 30, 30, 30, 270, 270]
    assert GrowBatchSize(initial=10, factor=3, epochs=(0,)).batch_size(0, [], 1000) == 30
    assert GrowBatchSize(initial=10, factor=1.5, epochs=(1,)).batch_size(1, [], 1000) == 15
    assert GrowBatchSize(initial=10, epochs=range(100)).batch_size(99, [], 1000) == 1000
    assert GrowBatchSize(initial=10, epochs=(1, 2), maximum=32).batch_size(5, [], 1000) == 32
    assert GrowBatchSize(initial=64).batch_size(0, [], 20) == 20  # never above n_samples
    assert isinstance(GrowBatchSize().batch_size(0, [], 100), int)


def test_grow_batch_size_on_plateau():
    schedule = GrowBatchSizeOnPlateau(initial=8, factor=2, patience=1, threshold=0.01)
    history = records([1.0, 0.5, 0.495, 0.489, 0.3, 0.3, 0.3])
    sizes = [schedule.batch_size(k, history[:k], 100) for k in range(8)]
    assert sizes == [8, 8, 8, 8, 16, 16, 16, 32]
    assert GrowBatchSizeOnPlateau(initial=8).batch_size(8, records([1.0] * 1000), 50) == 50


def test_scale_learning_rate_linear_and_sqrt():
    assert scale_learning_rate(0.1, 32, 128) == pytest.approx(0.4)
    assert scale_learning_rate(0.1, 32, 8) == pytest.approx(0.025)
    assert scale_learning_rate(0.1, 32, 128, rule="sqrt") == pytest.approx(0.2)
    assert scale_learning_rate(0.3, 7, 7, rule="sqrt") == 0.3


@given(
    lr=st.floats(1e-6, 10.0),
    old=st.integers(1, 4096),
    new=st.integers(1, 4096),
    rule=st.sampled_from(["linear", "sqrt"]),
)
def test_scale_learning_rate_round_trip(lr, old, new, rule):
    scaled = scale_learning_rate(lr, old, new, rule=rule)
    assert scale_learning_rate(scaled, new, old, rule=rule) == pytest.approx(lr, rel=1e-12)
    if new >= old:
        assert scaled >= lr * (1 - 1e-15)
    else:
        assert scaled <= lr * (1 + 1e-15)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((0.0, 32, 64), "learning_rate"),
        ((float("nan"), 32, 64), "learning_rate"),
        (("0.1", 32, 64), "learning_rate"),
        ((0.1, 0, 64), "old_batch_size"),
        ((0.1, 32.0, 64), "old_batch_size"),
        ((0.1, 32, True), "new_batch_size"),
        ((0.1, 32, 64, "square"), "rule"),
    ],
)
def test_scale_learning_rate_rejects_bad_input(args, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        scale_learning_rate(*args)


# ---------------------------------------------------------------------------------------------
# Parameters, bad input, as_schedule
# ---------------------------------------------------------------------------------------------

BAD_PARAMETERS = [
    (InverseScaling(power_t=-0.1), "power_t"),
    (InverseScaling(power_t=float("nan")), "power_t"),
    (InverseScaling(per="batch"), "per"),
    (StepDecay(step_size=0), "step_size"),
    (StepDecay(step_size=2.5), "step_size"),
    (StepDecay(step_size=True), "step_size"),
    (StepDecay(step_size=2**63), "step_size"),  # beyond int64: an OverflowError before
    (StepDecay(gamma=0.0), "gamma"),
    (StepDecay(gamma=1.5), "gamma"),
    (StepDecay(per="sample"), "per"),
    (ExponentialDecay(gamma=-1), "gamma"),
    (ExponentialDecay(gamma="0.9"), "gamma"),
    (Cosine(period=0), "period"),
    (Cosine(period=2**63), "period"),
    (Cosine(period=10, min_multiplier=1.5), "min_multiplier"),
    (Cosine(period=10, restarts="yes"), "restarts"),
    (Cosine(period=10, restarts=True, period_mult=0), "period_mult"),
    (Warmup(warmup=-1), "warmup"),
    (Warmup(schedule="cosine"), "schedule"),
    (Warmup(schedule=StepDecay), "schedule"),
    (Warmup(start_multiplier=2.0), "start_multiplier"),
    (Warmup(StepDecay(gamma=2.0)), "gamma"),
    (OneCycle(total=1), "total"),
    (OneCycle(total=10, pct_start=1.0), "pct_start"),
    (OneCycle(total=3, pct_start=0.3), "pct_start"),
    (OneCycle(total=10, div_factor=0.5), "div_factor"),
    (OneCycle(total=10, final_div_factor=0), "final_div_factor"),
    (OneCycle(total=10, anneal="exp"), "anneal"),
    (ReduceOnPlateau(factor=1.0), "factor"),
    (ReduceOnPlateau(patience=-1), "patience"),
    (ReduceOnPlateau(threshold=-1e-3), "threshold"),
    (ReduceOnPlateau(monitor="accuracy"), "monitor"),
    (ReduceOnPlateau(min_multiplier=-0.1), "min_multiplier"),
]
BAD_BATCH_PARAMETERS = [
    (GrowBatchSize(initial=0), "initial"),
    (GrowBatchSize(initial="full"), "initial"),
    (GrowBatchSize(factor=0.5), "factor"),
    (GrowBatchSize(epochs=(1, -2)), "epochs"),
    (GrowBatchSize(epochs=5), "epochs"),
    (GrowBatchSize(initial=64, maximum=32), "maximum"),
    (GrowBatchSizeOnPlateau(patience=-1), "patience"),
    (GrowBatchSizeOnPlateau(threshold=float("inf")), "threshold"),
    (GrowBatchSizeOnPlateau(monitor="score"), "monitor"),
]


@pytest.mark.parametrize(("schedule", "name"), BAD_PARAMETERS)
def test_bad_parameters_raise_naming_them(schedule, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        schedule.multipliers([0, 1], 0, [])
    with pytest.raises(ValueError, match=f"'{name}'"):
        as_schedule(schedule)


@pytest.mark.parametrize(("schedule", "name"), BAD_BATCH_PARAMETERS)
def test_bad_batch_parameters_raise_naming_them(schedule, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        schedule.batch_size(0, [], 100)


def test_bad_call_arguments():
    schedule = StepDecay()
    with pytest.raises(ValueError, match="1-D"):
        schedule.multipliers(np.zeros((2, 2), np.int64), 0, [])
    with pytest.raises(TypeError, match="integers"):
        schedule.multipliers([0.5, 1.5], 0, [])
    with pytest.raises(ValueError, match="non-negative"):
        schedule.multipliers([-1, 0], 0, [])
    with pytest.raises(ValueError, match="epoch"):
        schedule.multipliers([0], -1, [])
    with pytest.raises(ValueError, match="n_samples"):
        GrowBatchSize().batch_size(0, [], 0)
    with pytest.raises(ValueError, match="'n_samples'"):
        InverseScaling(per="sample").multipliers([0], 1, records([1.0]))


def test_as_schedule():
    assert isinstance(as_schedule("constant"), Constant)
    assert as_schedule("invscaling", power_t=0.7).get_params() == {"power_t": 0.7, "per": "sample"}
    adaptive = as_schedule("adaptive", tol=1e-3, n_iter_no_change=4)
    assert (
        adaptive.get_params()
        == ReduceOnPlateau(factor=0.2, patience=4, threshold=1e-3, monitor="loss").get_params()
    )
    assert as_schedule("adaptive", tol=None).threshold == 0.0
    # 'adaptive' watches what early stopping watches, else the training loss.
    assert as_schedule("adaptive", early_stopping=True).monitor == "val_loss"
    assert as_schedule("adaptive", early_stopping=True, monitor="val_score").monitor == "val_score"
    assert as_schedule("adaptive", monitor="val_score").monitor == "loss"
    schedule = Warmup(Cosine(period=10))
    assert as_schedule(schedule) is schedule
    with pytest.raises(ValueError, match="learning_rate"):
        as_schedule("optimal")
    with pytest.raises(TypeError, match="learning_rate"):
        as_schedule(0.01)
    with pytest.raises(TypeError, match="learning_rate"):
        as_schedule(GrowBatchSize())
    with pytest.raises(ValueError, match=r"'monitor'.*'loss'"):
        as_schedule("adaptive", early_stopping=True, monitor="loss")


@pytest.mark.parametrize("schedule", [StepDecay, Cosine, Warmup, ReduceOnPlateau])
def test_as_schedule_rejects_a_schedule_class(schedule):
    name = schedule.__name__
    message = re.escape(
        f"learning_rate must be a schedule instance, not a class: pass {name}(), not {name}."
    )
    with pytest.raises(TypeError, match=message):
        as_schedule(schedule)
    with pytest.raises(ValueError, match=message):  # as scikit-learn's InvalidParameterError
        as_schedule(schedule)


def test_check_batch_size():
    schedule = GrowBatchSizeOnPlateau(initial=4)
    for good in (1, np.int64(64), "full", "auto", schedule, GrowBatchSize()):
        assert check_batch_size(good) is good
    with pytest.raises(
        TypeError, match=r"batch_size .* pass GrowBatchSize\(\), not GrowBatchSize"
    ):
        check_batch_size(GrowBatchSize)
    with pytest.raises(ValueError, match="'initial'"):
        check_batch_size(GrowBatchSize(initial=0))
    for bad in (0, -3, 2.0, True, "half", None, StepDecay()):
        for error in (TypeError, ValueError):
            with pytest.raises(error, match=rf"batch_size must be .*; got {re.escape(repr(bad))}"):
                check_batch_size(bad)


def test_public_names_are_documented():
    for name in schedules.__all__:
        assert getattr(schedules, name).__doc__


# ---------------------------------------------------------------------------------------------
# get_params / set_params / clone / grid search
# ---------------------------------------------------------------------------------------------


def test_nested_get_and_set_params():
    schedule = Warmup(schedule=StepDecay(), warmup=3)
    params = schedule.get_params()
    assert params["schedule__gamma"] == 0.1 and params["warmup"] == 3
    assert schedule.set_params(schedule__gamma=0.5, schedule__per="update") is schedule
    assert schedule.schedule.gamma == 0.5
    np.testing.assert_allclose(per_update(schedule, 4, start=10), [0.5] * 4)
    copy_ = clone(schedule)
    assert copy_.schedule is not schedule.schedule
    assert copy_.get_params()["schedule__gamma"] == 0.5


class ScheduleProbe(RegressorMixin, BaseEstimator):
    """An estimator whose prediction is its schedule's multiplier in epoch 2."""

    def __init__(self, learning_rate="constant"):
        self.learning_rate = learning_rate

    def fit(self, X, y):
        self.multiplier_ = as_schedule(self.learning_rate).multipliers([0], 2, [])[0]
        return self

    def predict(self, X):
        return np.full(len(X), self.multiplier_)


def test_grid_search_reaches_nested_schedule_parameters():
    schedule = StepDecay(step_size=1)
    search = GridSearchCV(
        ScheduleProbe(learning_rate=schedule),
        {"learning_rate__gamma": [0.1, 0.5, 0.9]},
        cv=2,
        scoring="neg_mean_absolute_error",
    )
    search.fit(np.zeros((4, 1)), np.full(4, 0.25))  # gamma ** 2 == 0.25 is perfect
    assert search.best_params_ == {"learning_rate__gamma": 0.5}
    assert schedule.gamma == 0.1  # the user's object is not touched


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

PERS = st.sampled_from(["epoch", "update"])
unit = st.floats(0.0, 1.0)

simple_schedules = st.one_of(
    st.builds(Constant),
    st.builds(InverseScaling, st.floats(0, 3), st.sampled_from(["epoch", "update", "sample"])),
    st.builds(StepDecay, st.integers(1, 20), st.floats(1e-3, 1.0), PERS),
    st.builds(ExponentialDecay, st.floats(1e-3, 1.0), PERS),
    st.builds(Cosine, st.integers(1, 40), unit, st.booleans(), st.integers(1, 3), PERS),
    st.builds(
        OneCycle,
        st.integers(10, 300),
        st.floats(0.2, 0.9),
        st.floats(1, 100),
        st.floats(1, 1e5),
        st.sampled_from(["cos", "linear"]),
        PERS,
    ),
    st.builds(
        ReduceOnPlateau,
        st.floats(0.01, 0.99),
        st.integers(0, 3),
        st.floats(0, 0.1),
        st.sampled_from(["auto", "loss", "val_score"]),
        unit,
    ),
)
any_schedule = st.one_of(
    simple_schedules,
    st.builds(Warmup, st.none() | simple_schedules, st.integers(0, 30), PERS, unit),
)


@st.composite
def histories(draw, max_epochs=15):
    n = draw(st.integers(0, max_epochs))
    losses = draw(st.lists(st.floats(0, 10), min_size=n, max_size=n))
    with_val_loss = draw(st.booleans())
    history = []
    for i, loss in enumerate(losses):
        record = {
            "epoch": i + 1,
            "loss": loss,
            "n_updates": 3,
            "learning_rate": 1e-3,
            "batch_size": 32,
            "n_samples": 90,
            "val_score": draw(st.floats(0, 1)),
        }
        if with_val_loss:
            record["val_loss"] = draw(st.floats(0, 10))
        history.append(record)
    return history


def lower_bound(schedule):
    """The least multiplier each schedule promises (upper bound: 1)."""
    if isinstance(schedule, Cosine | ReduceOnPlateau):
        return schedule.min_multiplier
    if isinstance(schedule, OneCycle):
        return 1 / (schedule.div_factor * schedule.final_div_factor)
    if isinstance(schedule, Constant):
        return 1.0
    return 0.0


@given(
    schedule=any_schedule,
    start=st.integers(0, 10**6),
    n=st.integers(0, 60),
    epoch=st.integers(0, 500),
    history=histories(),
)
def test_multipliers_are_finite_bounded_and_pure(schedule, start, n, epoch, history):
    steps = np.arange(start, start + n, dtype=np.int64)
    steps.setflags(write=False)  # any write into the caller's array would raise
    history_before = copy.deepcopy(history)
    params_before = schedule.get_params()
    got = schedule.multipliers(steps, epoch, history)
    assert got.dtype == np.float64 and got.shape == (n,)
    assert np.isfinite(got).all()
    assert (got >= lower_bound(schedule) * (1 - 1e-12)).all() and (got <= 1.0 + 1e-12).all()
    # Pure: the same call gives the same result and changes nothing.
    np.testing.assert_array_equal(schedule.multipliers(steps, epoch, history), got)
    assert steps.tolist() == list(range(start, start + n))
    assert history == history_before
    assert schedule.get_params() == params_before
    # clone and pickle give the same schedule.
    np.testing.assert_array_equal(clone(schedule).multipliers(steps, epoch, history), got)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(schedule)).multipliers(steps, epoch, history), got
    )
    assert clone(schedule).get_params(deep=False).keys() == schedule.get_params(False).keys()


@given(
    schedule=st.one_of(
        st.builds(InverseScaling, st.floats(0, 3), PERS),
        st.builds(StepDecay, st.integers(1, 20), st.floats(1e-3, 1.0), PERS),
        st.builds(ExponentialDecay, st.floats(1e-3, 1.0), PERS),
        st.builds(Cosine, st.integers(1, 40), unit, st.just(False), st.integers(1, 3), PERS),
    ),
    start=st.integers(0, 10**5),
)
def test_decays_are_non_increasing(schedule, start):
    if schedule.per == "update":
        values = per_update(schedule, 80, start=start)
    else:
        values = np.array([schedule.multipliers([0], start + e, [])[0] for e in range(80)])
    assert (np.diff(values) <= 0).all()


@given(
    warmup=st.integers(1, 50),
    start_multiplier=unit,
    per=PERS,
)
def test_warmup_is_non_decreasing_and_reaches_one(warmup, start_multiplier, per):
    schedule = Warmup(warmup=warmup, per=per, start_multiplier=start_multiplier)
    values = per_update(schedule, warmup + 5) if per == "update" else per_epoch(schedule, 60)
    assert values[0] == pytest.approx(start_multiplier)
    assert (np.diff(values) >= 0).all()
    assert (values[warmup:] == 1.0).all() and (values[:warmup] < 1.0 + 1e-15).all()


@given(
    total=st.integers(10, 500),
    pct_start=st.floats(0.2, 0.9),
    anneal=st.sampled_from(["cos", "linear"]),
)
def test_one_cycle_rises_then_falls(total, pct_start, anneal):
    values = per_update(OneCycle(total, pct_start=pct_start, anneal=anneal), total + 3)
    peak = int(np.argmax(values))
    # The peak is at step pct_start * total - 1, or next to it when that is not an integer.
    assert abs(peak - (pct_start * total - 1)) < 1 and values[peak] <= 1.0
    exact = OneCycle(total, pct_start=round(pct_start * total) / total, anneal=anneal)
    assert per_update(exact, total).max() == pytest.approx(1.0, abs=1e-12)
    assert (np.diff(values[: peak + 1]) >= 0).all() and (np.diff(values[peak:]) <= 0).all()


@given(history=histories(max_epochs=30), patience=st.integers(0, 3), threshold=st.floats(0, 1))
def test_plateau_schedules_move_one_way_as_history_grows(history, patience, threshold):
    lr = ReduceOnPlateau(patience=patience, threshold=threshold)
    bs = GrowBatchSizeOnPlateau(initial=3, factor=2, patience=patience, threshold=threshold)
    prefixes = [history[:k] for k in range(len(history) + 1)]
    multipliers = [lr.multipliers([0], len(h), h)[0] for h in prefixes]
    sizes = [bs.batch_size(len(h), h, 1000) for h in prefixes]
    assert (np.diff(multipliers) <= 0).all() and (np.diff(sizes) >= 0).all()
    # Halving the learning rate at each plateau and doubling the batch are the same events.
    halving = ReduceOnPlateau(factor=0.5, patience=patience, threshold=threshold)
    halvings = [halving.multipliers([0], len(h), h)[0] for h in prefixes]
    assert sizes == [min(3 * round(1 / m), 1000) for m in halvings]
    # A plateau ends exactly where the multiplier of the next epoch drops.
    assert [halving.ends_plateau(h) for h in prefixes[1:]] == list(np.diff(halvings) < 0)


@given(
    history=histories(max_epochs=20),
    gaps=st.lists(st.integers(0, 20), max_size=6),
    patience=st.integers(0, 3),
    threshold=st.floats(0, 0.2),
)
def test_plateau_replay_skips_records_without_the_monitored_key(
    history, gaps, patience, threshold
):
    """Epochs that did not validate (partial_fit, an earlier fit without early stopping) have
    no validation keys: watching one, the plateau schedules skip them, as if absent."""
    gapped = list(history)
    for position in sorted(gaps, reverse=True):
        gapped.insert(min(position, len(gapped)), {"epoch": 0, "loss": 1.0, "n_samples": 90})
    lr = ReduceOnPlateau(patience=patience, threshold=threshold, monitor="val_score")
    bs = GrowBatchSizeOnPlateau(3, patience=patience, threshold=threshold, monitor="val_score")
    assert lr.multipliers([0], 0, gapped)[0] == lr.multipliers([0], 0, history)[0]
    assert bs.batch_size(0, gapped, 1000) == bs.batch_size(0, history, 1000)
    if gapped and "val_score" not in gapped[-1]:
        assert not lr.ends_plateau(gapped)


@given(
    initial=st.integers(1, 300),
    factor=st.floats(1, 5),
    milestones=st.lists(st.integers(0, 50), max_size=6),
    maximum=st.none() | st.integers(300, 2000),
    n_samples=st.integers(1, 1000),
    history=histories(),
)
def test_batch_sizes_are_non_decreasing_and_within_bounds(
    initial, factor, milestones, maximum, n_samples, history
):
    schedule = GrowBatchSize(initial, factor, tuple(milestones), maximum)
    sizes = [schedule.batch_size(e, history, n_samples) for e in range(60)]
    assert all(isinstance(s, int) and 1 <= s <= n_samples for s in sizes)
    assert maximum is None or max(sizes) <= maximum
    assert sizes == sorted(sizes)
    first = initial * factor ** sum(m <= 0 for m in milestones)
    assert abs(sizes[0] - min(first, n_samples, maximum or n_samples)) <= 1
    copy_ = pickle.loads(pickle.dumps(clone(schedule)))
    assert [copy_.batch_size(e, history, n_samples) for e in range(60)] == sizes


# ---------------------------------------------------------------------------------------------
# torch.optim.lr_scheduler, when torch is installed
# ---------------------------------------------------------------------------------------------

BASE_LR = 0.05


def torch_learning_rates(make_scheduler, n_steps):
    """The learning rate of each of n_steps optimizer steps under a torch scheduler."""
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([parameter], lr=BASE_LR, momentum=0.9)
    scheduler = make_scheduler(torch.optim.lr_scheduler, optimizer)
    rates = []
    for _ in range(n_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(rates, dtype=np.float64)


TORCH_CASES = [
    (lambda s, o: s.StepLR(o, step_size=3, gamma=0.3), StepDecay(3, 0.3), 40),
    (lambda s, o: s.ExponentialLR(o, gamma=0.9), ExponentialDecay(0.9), 60),
    (lambda s, o: s.CosineAnnealingLR(o, T_max=25), Cosine(25), 26),
    (
        lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.2 * BASE_LR),
        Cosine(10, min_multiplier=0.2),
        11,
    ),
    (
        lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.01 * BASE_LR),
        Cosine(7, min_multiplier=0.01, restarts=True),
        50,
    ),
    (
        lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        Cosine(3, restarts=True, period_mult=2),
        100,
    ),
    (
        lambda s, o: s.OneCycleLR(o, max_lr=BASE_LR, total_steps=100, cycle_momentum=False),
        OneCycle(100),
        100,
    ),
    (
        lambda s, o: s.OneCycleLR(
            o,
            max_lr=BASE_LR,
            total_steps=37,
            pct_start=0.25,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        OneCycle(37, pct_start=0.25, div_factor=10.0, final_div_factor=100.0, anneal="linear"),
        37,
    ),
]


@pytest.mark.parametrize(("make_scheduler", "schedule", "n_steps"), TORCH_CASES)
def test_torch_schedulers_agree(make_scheduler, schedule, n_steps):
    expected = torch_learning_rates(make_scheduler, n_steps)
    by_update = clone(schedule).set_params(per="update")
    np.testing.assert_allclose(BASE_LR * per_update(by_update, n_steps), expected, rtol=1e-12)
    by_epoch = clone(schedule).set_params(per="epoch")
    np.testing.assert_allclose(BASE_LR * per_epoch(by_epoch, n_steps), expected, rtol=1e-12)
