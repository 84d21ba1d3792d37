"""Learning-rate and batch-size schedules: small, stateless, picklable scikit-learn objects.

A **learning-rate schedule** gives, for the updates of the coming epoch, a multiplier of the
estimator's ``learning_rate_init`` (so a grid search over ``learning_rate_init`` keeps working
whatever the schedule)::

    schedule.multipliers(steps, epoch, history) -> float64 array shaped like ``steps``

``steps`` holds the 0-based global indices of the coming epoch's updates (for example
``np.arange(n_updates_so_far, n_updates_so_far + updates_this_epoch)``), ``epoch`` is the
0-based index of the coming epoch and ``history`` the list of per-epoch records of the epochs
already run (dicts with keys such as ``'loss'``, ``'val_loss'``, ``'val_score'``,
``'n_updates'``, ``'batch_size'``). Schedules with a ``per`` parameter follow the update
counter (``per='update'``) or the epoch counter (``per='epoch'``: one value for the whole
epoch). A schedule that lowers the rate on plateaus may also have
``ends_plateau(history) -> bool`` (as :class:`ReduceOnPlateau`): ``fit`` then stops at a
plateau only when the rate cannot be lowered any more, not by its own count (as its
``lowers_rate(history, learning_rate_init) -> bool`` says, if it has one).

A **batch-size schedule** gives the batch size of the coming epoch::

    schedule.batch_size(epoch, history, n_samples) -> int in [1, n_samples]

Every schedule is a pure function of these arguments: nothing is stored or mutated when it is
called, so one object can be shared by clones, pickles and parallel fits. Schedules are
:class:`sklearn.base.BaseEstimator` subclasses: ``get_params``, ``set_params`` and ``clone``
work, and a grid search can reach nested parameters (``learning_rate__gamma``).
``__init__`` only stores the arguments; they are checked, with a ``ValueError`` naming the
parameter, each time the schedule is called and by :func:`as_schedule` and
:func:`check_batch_size`.

Examples
--------
>>> import numpy as np
>>> from skminibatch.schedules import StepDecay, Warmup
>>> schedule = Warmup(StepDecay(step_size=1, gamma=0.5), warmup=4)
>>> schedule.multipliers(np.arange(6), epoch=1, history=[{"loss": 1.0}])
array([0.   , 0.125, 0.25 , 0.375, 0.5  , 0.5  ])
>>> schedule.set_params(schedule__gamma=0.1).get_params()["schedule__gamma"]
0.1
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "Constant",
    "Cosine",
    "ExponentialDecay",
    "GrowBatchSize",
    "GrowBatchSizeOnPlateau",
    "InverseScaling",
    "OneCycle",
    "ReduceOnPlateau",
    "StepDecay",
    "Warmup",
    "as_schedule",
    "check_batch_size",
    "scale_learning_rate",
]

_MONITORS = ("auto", "loss", "val_loss", "val_score")


class _ParameterError(ValueError, TypeError):
    """A bad parameter value or type (both a ValueError and a TypeError, as scikit-learn's
    ``InvalidParameterError`` is)."""


# ---------------------------------------------------------------------------------------------
# Parameter and argument checks
# ---------------------------------------------------------------------------------------------


def _reject(owner, name, expected, value):
    raise _ParameterError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead."
    )


def _is_number(value, kind):
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


def _check_int(owner, name, value, low):
    if not _is_number(value, Integral) or not low <= value < 2**63:  # counted in int64
        _reject(owner, name, f"an int >= {low} and < 2**63", value)


def _check_real(owner, name, value, low, high=math.inf, *, low_open=False, high_open=False):
    ok = (
        _is_number(value, Real)
        and math.isfinite(value)
        and (value > low if low_open else value >= low)
        and (value < high if high_open else value <= high)
    )
    if not ok:
        if high == math.inf:
            expected = f"a finite float {'>' if low_open else '>='} {low}"
        else:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            expected = f"a float in the range {left}{low}, {high}{right}"
        _reject(owner, name, expected, value)


def _check_option(owner, name, value, options):
    if not isinstance(value, str) or value not in options:
        _reject(owner, name, "one of " + ", ".join(repr(o) for o in options), value)


def _check_steps(steps):
    steps = np.asarray(steps)
    if steps.ndim != 1:
        raise ValueError(f"steps must be a 1-D array of update indices; got shape {steps.shape}.")
    if steps.size == 0:
        return np.zeros(0, np.int64)
    if steps.dtype.kind not in "iu":
        raise TypeError(f"steps must be an array of integers; got dtype {steps.dtype}.")
    if steps.min() < 0:
        raise ValueError(f"steps must be non-negative update indices; got {steps.min()}.")
    return steps.astype(np.int64, copy=False)


def _check_epoch(epoch):
    if not _is_number(epoch, Integral) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int (0-based); got {epoch!r}.")
    return int(epoch)


def _plateau_ends(history, monitor, patience, threshold):
    """Replay scikit-learn's ``_update_no_improvement_count`` over ``history``: for each
    record, whether it ends a plateau.

    ``monitor`` is the record key watched (``'auto'``: ``'val_loss'`` if every record has it,
    else ``'loss'``). An epoch improves when its value beats the best value so far by at least
    ``threshold`` (``value <= best - threshold`` for losses, ``value >= best + threshold`` for
    scores); the best value is the running minimum (maximum) of all values, improving or not.
    Each time more than ``patience`` consecutive epochs fail to improve, that epoch ends a
    plateau and the count of bad epochs starts again from zero (the best value is kept).
    Records whose value is NaN (an epoch without updates) or missing (an epoch that did not
    validate: the epochs of an earlier fit without validation) are skipped: they neither
    improve nor fail.
    """
    if monitor == "auto":
        has_val_loss = len(history) > 0 and all("val_loss" in record for record in history)
        monitor = "val_loss" if has_val_loss else "loss"
    maximize = monitor == "val_score"
    best = -math.inf if maximize else math.inf
    n_bad = 0
    ends = []
    for record in history:
        value = float(record.get(monitor, math.nan))
        ended = False
        if not math.isnan(value):
            improved = value >= best + threshold if maximize else value <= best - threshold
            n_bad = 0 if improved else n_bad + 1
            best = max(best, value) if maximize else min(best, value)
            if n_bad > patience:
                ended = True
                n_bad = 0
        ends.append(ended)
    return ends


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------------------------


class _LearningRateSchedule(BaseEstimator):
    """Base class: checks the arguments, then calls the subclass's ``_multipliers``."""

    def multipliers(self, steps, epoch, history):
        """Multipliers of ``learning_rate_init`` for the updates of the coming epoch.

        Parameters
        ----------
        steps : array-like of int, shape (n_updates,)
            0-based global indices of the coming epoch's updates.
        epoch : int
            0-based index of the coming epoch.
        history : list of dict
            Records of the epochs already run, oldest first.

        Returns
        -------
        multipliers : ndarray of float64, shape (n_updates,)
            Non-negative, finite multipliers, one per update.
        """
        self._check_params()
        steps = _check_steps(steps)
        epoch = _check_epoch(epoch)
        return np.asarray(self._multipliers(steps, epoch, history), dtype=np.float64)

    def _check_params(self):
        """Raise a ValueError naming the first bad parameter."""

    def _times(self, steps, epoch):
        """The counter the schedule follows, one int64 per update."""
        if self.per == "update":
            return steps
        return np.full(steps.shape, epoch, dtype=np.int64)


class Constant(_LearningRateSchedule):
    """A constant learning rate: ``learning_rate_init`` for every update.

    The same as scikit-learn's ``learning_rate='constant'``.

    Examples
    --------
    >>> import numpy as np
    >>> Constant().multipliers(np.arange(3), epoch=0, history=[])
    array([1., 1., 1.])
    """

    def _multipliers(self, steps, epoch, history):
        return np.ones(steps.shape)


class InverseScaling(_LearningRateSchedule):
    """Inverse scaling: the multiplier is ``1 / (t + 1) ** power_t``.

    The counter ``t`` starts at 0, so the first update (or epoch) uses ``learning_rate_init``
    itself:

    - ``per='epoch'`` (default): ``t`` is the 0-based epoch index, constant within an epoch;
    - ``per='update'``: ``t`` is the 0-based global update index, as in scikit-learn's
      ``SGDRegressor(learning_rate='invscaling')``, whose updates are single samples;
    - ``per='sample'``: ``t`` is the number of training samples seen in the epochs already
      run, the sum of the records' ``'n_samples'`` in ``history``. This is exactly
      scikit-learn's MLP ``learning_rate='invscaling'``, which sets
      ``learning_rate_init / (t_ + 1) ** power_t`` at the end of each epoch, where ``t_``
      counts samples seen: the first epoch runs at ``learning_rate_init``, the second at
      ``learning_rate_init / (n_samples + 1) ** power_t``, and so on. It needs
      ``'n_samples'`` (rows trained on in that epoch) in every record.

    Counting samples makes the decay depend on the size of the training set (``per='sample'``
    after one epoch of 10 000 samples divides by about 100 with ``power_t=0.5``;
    ``per='epoch'`` divides by about 1.4), which is why ``per='epoch'`` is the default here.

    Parameters
    ----------
    power_t : float, default=0.5
        The exponent, >= 0; 0 is a constant learning rate.
    per : {'epoch', 'update', 'sample'}, default='epoch'
        The counter ``t``, see above.

    Examples
    --------
    >>> import numpy as np
    >>> InverseScaling(power_t=1.0, per="update").multipliers(np.arange(4), 0, [])
    array([1.        , 0.5       , 0.33333333, 0.25      ])
    >>> InverseScaling(power_t=0.5).multipliers(np.arange(10, 12), epoch=3, history=[])
    array([0.5, 0.5])
    >>> InverseScaling(per="sample").multipliers([7, 8], 1, [{"n_samples": 99}])
    array([0.1, 0.1])
    """

    def __init__(self, power_t=0.5, per="epoch"):
        self.power_t = power_t
        self.per = per

    def _check_params(self):
        _check_real("InverseScaling", "power_t", self.power_t, 0)
        _check_option("InverseScaling", "per", self.per, ("epoch", "update", "sample"))

    def _multipliers(self, steps, epoch, history):
        if self.per == "sample":
            try:
                seen = sum(int(record["n_samples"]) for record in history)
            except KeyError:
                raise ValueError(
                    "InverseScaling(per='sample') needs the number of samples trained on, "
                    "'n_samples', in every record of history."
                ) from None
            t = np.full(steps.shape, float(seen))
        else:
            t = self._times(steps, epoch).astype(np.float64)
        return 1.0 / (t + 1.0) ** float(self.power_t)


class StepDecay(_LearningRateSchedule):
    """Step decay: multiply by ``gamma`` every ``step_size`` epochs (or updates).

    The multiplier is ``gamma ** (t // step_size)``, the formula of
    ``torch.optim.lr_scheduler.StepLR`` with ``t`` the epoch (``per='epoch'``) or the update
    index (``per='update'``), both 0-based.

    Parameters
    ----------
    step_size : int, default=10
        Epochs (or updates) between two decays, >= 1.
    gamma : float, default=0.1
        The factor of each decay, in (0, 1].
    per : {'epoch', 'update'}, default='epoch'
        The counter ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> StepDecay(step_size=2, gamma=0.5, per="update").multipliers(np.arange(5), 0, [])
    array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    >>> StepDecay(step_size=10).multipliers(np.arange(2), epoch=25, history=[])
    array([0.01, 0.01])
    """

    def __init__(self, step_size=10, gamma=0.1, per="epoch"):
        self.step_size = step_size
        self.gamma = gamma
        self.per = per

    def _check_params(self):
        _check_int("StepDecay", "step_size", self.step_size, 1)
        _check_real("StepDecay", "gamma", self.gamma, 0, 1, low_open=True)
        _check_option("StepDecay", "per", self.per, ("epoch", "update"))

    def _multipliers(self, steps, epoch, history):
        t = self._times(steps, epoch)
        return float(self.gamma) ** (t // int(self.step_size)).astype(np.float64)


class ExponentialDecay(_LearningRateSchedule):
    """Exponential decay: the multiplier is ``gamma ** t``.

    ``torch.optim.lr_scheduler.ExponentialLR``, with ``t`` the 0-based epoch (``per='epoch'``)
    or update index (``per='update'``).

    Parameters
    ----------
    gamma : float, default=0.95
        The factor per epoch (or update), in (0, 1].
    per : {'epoch', 'update'}, default='epoch'
        The counter ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> ExponentialDecay(gamma=0.5).multipliers(np.arange(2), epoch=3, history=[])
    array([0.125, 0.125])
    """

    def __init__(self, gamma=0.95, per="epoch"):
        self.gamma = gamma
        self.per = per

    def _check_params(self):
        _check_real("ExponentialDecay", "gamma", self.gamma, 0, 1, low_open=True)
        _check_option("ExponentialDecay", "per", self.per, ("epoch", "update"))

    def _multipliers(self, steps, epoch, history):
        return float(self.gamma) ** self._times(steps, epoch).astype(np.float64)


class Cosine(_LearningRateSchedule):
    """Cosine annealing from 1 down to ``min_multiplier`` over ``period`` epochs (or updates).

    The multiplier is ``m + (1 - m) * (1 + cos(pi * t_cur / t_i)) / 2`` with
    ``m = min_multiplier``:

    - ``restarts=False``: ``torch.optim.lr_scheduler.CosineAnnealingLR`` with
      ``T_max=period`` and ``eta_min = m * learning_rate_init``; ``t_cur = t``,
      ``t_i = period``. After ``period`` the multiplier stays at ``m`` (torch's would rise
      again along the cosine).
    - ``restarts=True``: ``CosineAnnealingWarmRestarts(T_0=period, T_mult=period_mult)``,
      SGDR: the multiplier restarts at 1 at the end of each cycle, the first cycle lasting
      ``period`` and each one ``period_mult`` times longer than the one before; ``t_cur``
      counts from the start of the current cycle and ``t_i`` is its length.

    Parameters
    ----------
    period : int
        Length of the (first) cycle in epochs (or updates), >= 1. No default: it should match
        the length of training (``max_iter`` epochs for ``per='epoch'``).
    min_multiplier : float, default=0.0
        The lowest multiplier, in [0, 1].
    restarts : bool, default=False
        Whether to restart (SGDR) at the end of each cycle.
    period_mult : int, default=1
        Growth of the cycle length at each restart, >= 1. Ignored without restarts.
    per : {'epoch', 'update'}, default='epoch'
        The counter ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> Cosine(period=4, per="update").multipliers(np.arange(6), 0, []).round(4).tolist()
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    >>> restarting = Cosine(period=2, restarts=True, period_mult=2, per="update")
    >>> restarting.multipliers(np.arange(7), 0, []).round(4).tolist()
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    def __init__(self, period, min_multiplier=0.0, restarts=False, period_mult=1, per="epoch"):
        self.period = period
        self.min_multiplier = min_multiplier
        self.restarts = restarts
        self.period_mult = period_mult
        self.per = per

    def _check_params(self):
        _check_int("Cosine", "period", self.period, 1)
        _check_real("Cosine", "min_multiplier", self.min_multiplier, 0, 1)
        if not isinstance(self.restarts, (bool, np.bool_)):
            _reject("Cosine", "restarts", "a bool", self.restarts)
        _check_int("Cosine", "period_mult", self.period_mult, 1)
        _check_option("Cosine", "per", self.per, ("epoch", "update"))

    def _multipliers(self, steps, epoch, history):
        t = self._times(steps, epoch)
        period = int(self.period)
        if not self.restarts:
            t_cur, t_i = np.minimum(t, period), period
        elif self.period_mult == 1:
            t_cur, t_i = t % period, period
        else:
            t_cur, t_i = _cycle_position(t, period, int(self.period_mult))
        low = float(self.min_multiplier)
        return low + (1.0 - low) * (1.0 + np.cos(np.pi * t_cur / t_i)) / 2.0


def _cycle_position(t, period, mult):
    """Position in the current cycle and its length, for cycles of period * mult**n steps.

    Cycle n starts at ``period * (mult**n - 1) / (mult - 1)``: the logarithm gives n up to
    rounding, which the integer comparisons then correct.
    """
    n = np.floor(np.log1p(t / period * (mult - 1)) / math.log(mult)).astype(np.int64)
    n = np.maximum(n, 0)

    def start(n):
        return period * (mult**n - 1) // (mult - 1)

    n -= start(n) > t
    n += start(n + 1) <= t
    return t - start(n), period * mult**n


class Warmup(_LearningRateSchedule):
    """Linear warm-up, multiplying any other schedule.

    The multiplier is ``w(t) * schedule.multipliers(steps, epoch, history)`` with
    ``w(t) = s + (1 - s) * min(t, warmup) / warmup``, ``s = start_multiplier``: the formula of
    ``torch.optim.lr_scheduler.LinearLR(start_factor=s, total_iters=warmup)``. It rises from
    ``s`` at ``t = 0`` to 1 at ``t = warmup`` and stays there. With the default ``s = 0`` the
    first update (``per='update'``) or the whole first epoch (``per='epoch'``) has learning
    rate 0, as in optax's and Hugging Face's warm-ups; set ``start_multiplier`` (for example to
    ``1 / warmup``) to avoid it. The wrapped schedule sees the same steps, epoch and history,
    so it is not delayed by the warm-up.

    Parameters
    ----------
    schedule : learning-rate schedule or None, default=None
        The schedule to warm up; None means :class:`Constant`.
    warmup : int, default=5
        Length of the warm-up in updates (or epochs), >= 0; 0 means no warm-up.
    per : {'update', 'epoch'}, default='update'
        The counter ``t``.
    start_multiplier : float, default=0.0
        The multiplier at ``t = 0``, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> Warmup(warmup=4).multipliers(np.arange(6), epoch=0, history=[])
    array([0.  , 0.25, 0.5 , 0.75, 1.  , 1.  ])
    >>> Warmup(ExponentialDecay(0.5), warmup=2, per="epoch").multipliers([0, 1], 1, [])
    array([0.25, 0.25])
    """

    def __init__(self, schedule=None, warmup=5, per="update", start_multiplier=0.0):
        self.schedule = schedule
        self.warmup = warmup
        self.per = per
        self.start_multiplier = start_multiplier

    def _check_params(self):
        inner = self.schedule
        if inner is not None and (
            isinstance(inner, type) or not callable(getattr(inner, "multipliers", None))
        ):
            _reject("Warmup", "schedule", "None or a learning-rate schedule", self.schedule)
        if isinstance(self.schedule, _LearningRateSchedule):
            self.schedule._check_params()
        _check_int("Warmup", "warmup", self.warmup, 0)
        _check_option("Warmup", "per", self.per, ("update", "epoch"))
        _check_real("Warmup", "start_multiplier", self.start_multiplier, 0, 1)

    @property
    def ends_plateau(self):
        """The wrapped schedule's ``ends_plateau`` (None when it has none): a warmed-up
        :class:`ReduceOnPlateau` decides when ``fit`` stops as it does alone."""
        return getattr(self.schedule, "ends_plateau", None)

    @property
    def lowers_rate(self):
        """The wrapped schedule's ``lowers_rate`` (None when it has none): whether a plateau
        lowers the rate is its answer, not the warm-up's, which may be raising it."""
        return getattr(self.schedule, "lowers_rate", None)

    def _multipliers(self, steps, epoch, history):
        inner = Constant() if self.schedule is None else self.schedule
        base = np.asarray(inner.multipliers(steps, epoch, history), dtype=np.float64)
        warmup = int(self.warmup)
        if warmup == 0:
            return base
        t = self._times(steps, epoch)
        start = float(self.start_multiplier)
        ramp = np.where(t >= warmup, 1.0, start + (1.0 - start) * t / warmup)
        return ramp * base


class OneCycle(_LearningRateSchedule):
    """The 1cycle policy: up from ``1 / div_factor`` to 1, then down to nearly 0.

    ``torch.optim.lr_scheduler.OneCycleLR(max_lr=learning_rate_init, total_steps=total,
    pct_start, anneal_strategy=anneal, div_factor, final_div_factor)`` as a multiplier of
    ``learning_rate_init`` (which plays torch's ``max_lr``), without momentum cycling and with
    two phases. With ``a = 1 / div_factor``, ``z = a / final_div_factor`` and
    ``p = pct_start * total - 1``, the multiplier anneals from ``a`` to 1 over ``t`` in
    ``[0, p]`` and from 1 to ``z`` over ``[p, total - 1]``, along a half cosine
    (``anneal='cos'``) or a line (``anneal='linear'``). Beyond ``total - 1`` it stays at ``z``
    (torch raises an error there).

    Parameters
    ----------
    total : int
        Number of updates (or epochs) of the cycle, >= 2. No default: it should match the
        length of training; with ``per='update'`` that is ``max_iter`` times the updates per
        epoch.
    pct_start : float, default=0.3
        The fraction of the cycle spent increasing, in (0, 1), with ``pct_start * total > 1``.
    div_factor : float, default=25
        The first multiplier is ``1 / div_factor``; >= 1.
    final_div_factor : float, default=1e4
        The last multiplier is ``1 / (div_factor * final_div_factor)``; >= 1.
    anneal : {'cos', 'linear'}, default='cos'
        The shape of both phases.
    per : {'update', 'epoch'}, default='update'
        The counter ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> schedule = OneCycle(total=5, pct_start=0.4, div_factor=10, final_div_factor=10,
    ...                     anneal="linear")
    >>> schedule.multipliers(np.arange(6), epoch=0, history=[])
    array([0.1 , 1.  , 0.67, 0.34, 0.01, 0.01])
    """

    def __init__(
        self,
        total,
        pct_start=0.3,
        div_factor=25,
        final_div_factor=1e4,
        anneal="cos",
        per="update",
    ):
        self.total = total
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.anneal = anneal
        self.per = per

    def _check_params(self):
        _check_int("OneCycle", "total", self.total, 2)
        _check_real("OneCycle", "pct_start", self.pct_start, 0, 1, low_open=True, high_open=True)
        if not self.pct_start * self.total > 1:
            raise _ParameterError(
                f"The 'pct_start' and 'total' parameters of OneCycle must have "
                f"pct_start * total > 1, so that the increasing phase has more than one step. "
                f"Got pct_start={self.pct_start!r} and total={self.total!r} instead."
            )
        _check_real("OneCycle", "div_factor", self.div_factor, 1)
        _check_real("OneCycle", "final_div_factor", self.final_div_factor, 1)
        _check_option("OneCycle", "anneal", self.anneal, ("cos", "linear"))
        _check_option("OneCycle", "per", self.per, ("update", "epoch"))

    def _multipliers(self, steps, epoch, history):
        t = self._times(steps, epoch).astype(np.float64)
        initial = 1.0 / float(self.div_factor)
        final = initial / float(self.final_div_factor)
        peak_step = float(self.pct_start * self.total) - 1  # torch's phase ends, exactly
        last_step = float(int(self.total) - 1)
        t = np.minimum(t, last_step)
        rising = t <= peak_step
        pct = np.where(rising, t / peak_step, (t - peak_step) / (last_step - peak_step))
        start = np.where(rising, initial, 1.0)
        end = np.where(rising, 1.0, final)
        if self.anneal == "cos":
            values = end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)
        else:
            values = (end - start) * pct + start
        return np.clip(values, final, 1.0)  # only rounding can take them out


class ReduceOnPlateau(_LearningRateSchedule):
    """Divide the learning rate when the monitored value stops improving.

    The multiplier after the epochs in ``history`` is ``max(factor ** k, min_multiplier)``,
    where ``k`` counts the plateaus found by replaying ``history``: an epoch improves when its
    value beats the best value so far by at least ``threshold`` (an absolute amount), and each
    time more than ``patience`` consecutive epochs fail to improve, the learning rate is
    multiplied by ``factor`` and the count of failing epochs starts again from zero. The best
    value is the running minimum of the loss (maximum of the score) over all epochs. Records
    whose monitored value is NaN (an epoch without updates) or missing (an epoch of an
    earlier fit that did not validate) are skipped. A call that records no validation at all
    (``partial_fit``, ``fit`` without early stopping or ``validation_data``) refuses a
    schedule watching ``'val_loss'`` or ``'val_score'``, which would never act there. The
    multiplier is the same for every update of the coming epoch.

    This is scikit-learn's MLP ``learning_rate='adaptive'`` rule, as its code runs it, with
    ``factor=0.2``, ``threshold=tol``, ``patience=n_iter_no_change`` and ``monitor='loss'``
    (the estimator's ``monitor`` in a ``fit`` with ``early_stopping=True``, where
    scikit-learn watches its validation score); see :func:`as_schedule`. (Its docstring's
    "two consecutive epochs" is ``patience=1``.) It is also
    ``torch.optim.lr_scheduler.ReduceLROnPlateau(threshold_mode='abs', cooldown=0)``, except
    that torch moves its best value only on improvements of at least ``threshold`` and counts
    a tie at exactly ``threshold`` as no improvement.

    In ``fit``, this schedule's plateaus replace the estimator's stopping rule, as in
    scikit-learn's 'adaptive': a plateau lowers the rate instead of stopping training, and
    training stops at a plateau (:meth:`ends_plateau`) only when the rate cannot be lowered
    any more, being at most 1e-6 (scikit-learn's rule) or at ``min_multiplier``
    (:meth:`lowers_rate`).
    ``n_iter_no_change`` then plays no part; ``tol=None`` still runs every epoch.

    Parameters
    ----------
    factor : float, default=0.2
        Multiplier applied at each plateau, in (0, 1).
    patience : int, default=1
        Number of failing epochs tolerated; a plateau is ``patience + 1`` of them in a row.
    threshold : float, default=1e-4
        The least improvement that counts, >= 0.
    monitor : {'auto', 'loss', 'val_loss', 'val_score'}, default='auto'
        The record key watched; losses must decrease, ``'val_score'`` must increase.
        ``'auto'`` is ``'val_loss'`` if every record has it, else ``'loss'``.
    min_multiplier : float, default=0.0
        The lowest multiplier, in [0, 1].

    Examples
    --------
    >>> history = [{"loss": 1.0}, {"loss": 0.5}, {"loss": 0.6}, {"loss": 0.55}]
    >>> ReduceOnPlateau().multipliers([40, 41], epoch=4, history=history)
    array([0.2, 0.2])
    >>> ReduceOnPlateau(patience=2).multipliers([40, 41], epoch=4, history=history)
    array([1., 1.])
    >>> ReduceOnPlateau().ends_plateau(history), ReduceOnPlateau().ends_plateau(history[:3])
    (True, False)
    """

    def __init__(self, factor=0.2, patience=1, threshold=1e-4, monitor="auto", min_multiplier=0.0):
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.monitor = monitor
        self.min_multiplier = min_multiplier

    def _check_params(self):
        owner = "ReduceOnPlateau"
        _check_real(owner, "factor", self.factor, 0, 1, low_open=True, high_open=True)
        _check_int(owner, "patience", self.patience, 0)
        _check_real(owner, "threshold", self.threshold, 0)
        _check_option(owner, "monitor", self.monitor, _MONITORS)
        _check_real(owner, "min_multiplier", self.min_multiplier, 0, 1)

    def _plateau_ends(self, history):
        return _plateau_ends(history, self.monitor, int(self.patience), float(self.threshold))

    def _multipliers(self, steps, epoch, history):
        n_plateaus = sum(self._plateau_ends(history))
        multiplier = max(float(self.factor) ** n_plateaus, float(self.min_multiplier))
        return np.full(steps.shape, multiplier)

    def ends_plateau(self, history):
        """Whether the last epoch of ``history`` ends a plateau.

        The training loop asks this after each epoch of ``fit`` (see the class docstring):
        training stops at a plateau when the rate cannot be lowered any more.

        Parameters
        ----------
        history : list of dict
            Records of the epochs run so far, oldest first.

        Returns
        -------
        ends_plateau : bool
            True when the last record completes ``patience + 1`` failing epochs in a row.
        """
        self._check_params()
        ends = self._plateau_ends(history)
        return bool(ends) and ends[-1]

    def lowers_rate(self, history, learning_rate_init):
        """Whether the plateau the last epoch of ``history`` ends lowers the learning rate.

        Parameters
        ----------
        history : list of dict
            Records of the epochs run so far, oldest first, the last ending a plateau.
        learning_rate_init : float
            The rate this schedule multiplies.

        Returns
        -------
        lowers_rate : bool
            False when the rate before the plateau, ``learning_rate_init`` times this
            schedule's multiplier (not a warm-up's around it), is at most 1e-6, as in
            scikit-learn's 'adaptive', or when the multiplier is already at
            ``min_multiplier``: training stops.
        """
        self._check_params()
        before, after = (self._multipliers(np.zeros(1), 0, h)[0] for h in (history[:-1], history))
        return learning_rate_init * before > 1e-6 and after < before


def as_schedule(
    learning_rate,
    power_t=0.5,
    tol=1e-4,
    *,
    n_iter_no_change=10,
    early_stopping=False,
    monitor="val_loss",
):
    """A learning-rate schedule from scikit-learn's ``learning_rate`` strings, or as given.

    - ``'constant'``: :class:`Constant`;
    - ``'invscaling'``: ``InverseScaling(power_t, per='sample')``, exactly scikit-learn's MLP
      rule (the history records then need ``'n_samples'``);
    - ``'adaptive'``: ``ReduceOnPlateau(factor=0.2, patience=n_iter_no_change,
      threshold=tol, monitor=monitor if early_stopping else 'loss')``, exactly the rule
      scikit-learn's MLP runs (its code compares the count of failing epochs with
      ``n_iter_no_change``; ``tol=None`` counts any decrease as an improvement), watching
      what early stopping watches;
    - a schedule object: returned unchanged, after checking its parameters.

    Parameters
    ----------
    learning_rate : {'constant', 'invscaling', 'adaptive'} or learning-rate schedule
        What to normalise: a string, or an instance of a schedule class (not the class).
    power_t : float, default=0.5
        Exponent of ``'invscaling'``.
    tol : float or None, default=1e-4
        Least improvement of ``'adaptive'``.
    n_iter_no_change : int, default=10
        Patience of ``'adaptive'``.
    early_stopping : bool, default=False
        Whether the call validates (``fit`` with ``early_stopping=True``): ``'adaptive'`` then
        watches ``monitor``, else the training loss.
    monitor : {'val_loss', 'val_score'}, default='val_loss'
        What early stopping watches. (scikit-learn's MLP has no such parameter: it watches
        its validation score.)

    Returns
    -------
    schedule : learning-rate schedule

    Raises
    ------
    ValueError
        If ``learning_rate`` is an unknown string, or a schedule or ``monitor`` is invalid.
    TypeError
        If ``learning_rate`` is neither a string nor a schedule instance.

    Examples
    --------
    >>> as_schedule("adaptive", tol=1e-3, n_iter_no_change=2)
    ReduceOnPlateau(monitor='loss', patience=2, threshold=0.001)
    >>> as_schedule("adaptive", early_stopping=True, monitor="val_score").monitor
    'val_score'
    >>> as_schedule(StepDecay(gamma=0.5))
    StepDecay(gamma=0.5)
    """
    _check_option("as_schedule", "monitor", monitor, ("val_loss", "val_score"))
    if isinstance(learning_rate, str):
        if learning_rate == "constant":
            schedule = Constant()
        elif learning_rate == "invscaling":
            schedule = InverseScaling(power_t=power_t, per="sample")
        elif learning_rate == "adaptive":
            schedule = ReduceOnPlateau(
                factor=0.2,
                patience=n_iter_no_change,
                threshold=0.0 if tol is None else tol,
                monitor=monitor if early_stopping else "loss",
            )
        else:
            raise ValueError(
                f"learning_rate must be 'constant', 'invscaling', 'adaptive' or a schedule "
                f"from skminibatch.schedules; got {learning_rate!r}."
            )
    elif callable(getattr(learning_rate, "multipliers", None)):
        _reject_class("learning_rate", learning_rate)
        schedule = learning_rate
    else:
        raise TypeError(
            f"learning_rate must be 'constant', 'invscaling', 'adaptive' or a schedule from "
            f"skminibatch.schedules (an object with a multipliers(steps, epoch, history) "
            f"method); got {learning_rate!r} of type {type(learning_rate).__name__}. The "
            f"initial learning rate itself is learning_rate_init."
        )
    if isinstance(schedule, _LearningRateSchedule):
        schedule._check_params()
    return schedule


def _reject_class(name, value):
    """Raise if the parameter ``name`` got a schedule class instead of an instance of it."""
    if isinstance(value, type):
        raise _ParameterError(
            f"{name} must be a schedule instance, not a class: pass {value.__name__}(), not "
            f"{value.__name__}."
        )


# ---------------------------------------------------------------------------------------------
# Batch-size schedules
# ---------------------------------------------------------------------------------------------


class _BatchSizeSchedule(BaseEstimator):
    """Base class: checks the arguments, then calls the subclass's ``_n_growths``."""

    def batch_size(self, epoch, history, n_samples):
        """The batch size of the coming epoch.

        Parameters
        ----------
        epoch : int
            0-based index of the coming epoch.
        history : list of dict
            Records of the epochs already run, oldest first.
        n_samples : int
            Number of training samples of the coming epoch.

        Returns
        -------
        batch_size : int
            ``initial`` times ``factor`` once per growth event so far, rounded down, and
            clipped to ``[1, min(maximum, n_samples)]``.
        """
        self._check_params()
        epoch = _check_epoch(epoch)
        if not _is_number(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1; got {n_samples!r}.")
        cap = int(n_samples) if self.maximum is None else min(int(self.maximum), int(n_samples))
        size = float(self.initial)
        for _ in range(self._n_growths(epoch, history)):
            if size >= cap:
                break
            size *= float(self.factor)
        return max(1, min(int(size), cap))

    def _check_common(self, owner):
        _check_int(owner, "initial", self.initial, 1)
        _check_real(owner, "factor", self.factor, 1)
        if self.maximum is not None:
            _check_int(owner, "maximum", self.maximum, 1)
            if self.maximum < self.initial:
                _reject(
                    owner, "maximum", f"None or an int >= initial ({self.initial})", self.maximum
                )


class GrowBatchSize(_BatchSizeSchedule):
    """Grow the batch size by ``factor`` at given epochs, instead of decaying the learning rate.

    "Don't decay the learning rate, increase the batch size" (Smith, Kindermans, Ying and Le,
    2017): the batch size is ``initial * factor ** k``, ``k`` the number of milestones in
    ``epochs`` that are <= the coming epoch (0-based), as ``torch.optim.lr_scheduler.
    MultiStepLR`` counts them (a milestone listed twice counts twice); it is rounded down and
    clipped to ``[1, min(maximum, n_samples)]``.

    Parameters
    ----------
    initial : int, default=32
        Batch size of the first epochs, >= 1.
    factor : float, default=2
        Growth at each milestone, >= 1.
    epochs : sequence of int, default=(50, 100, 150)
        0-based epochs from which the batch size grows; >= 0, in any order.
    maximum : int or None, default=None
        Largest batch size (>= initial); None means the number of samples.

    Examples
    --------
    >>> schedule = GrowBatchSize(initial=16, factor=4, epochs=(2, 4))
    >>> [schedule.batch_size(epoch, [], n_samples=100) for epoch in range(6)]
    [16, 16, 64, 64, 100, 100]
    """

    def __init__(self, initial=32, factor=2, epochs=(50, 100, 150), maximum=None):
        self.initial = initial
        self.factor = factor
        self.epochs = epochs
        self.maximum = maximum

    def _check_params(self):
        self._check_common("GrowBatchSize")
        try:
            milestones = list(self.epochs)
        except TypeError:
            milestones = None
        if milestones is None or not all(_is_number(e, Integral) and e >= 0 for e in milestones):
            _reject("GrowBatchSize", "epochs", "a sequence of ints >= 0", self.epochs)

    def _n_growths(self, epoch, history):
        return sum(1 for milestone in self.epochs if milestone <= epoch)


class GrowBatchSizeOnPlateau(_BatchSizeSchedule):
    """Grow the batch size by ``factor`` when the monitored value stops improving.

    The batch-size counterpart of :class:`ReduceOnPlateau`, with the same replay of
    ``history``: each time more than ``patience`` consecutive epochs fail to improve the
    monitored value by at least ``threshold``, the batch size is multiplied by ``factor``
    (rounded down and clipped to ``[1, min(maximum, n_samples)]``).

    Parameters
    ----------
    initial : int, default=32
        Batch size until the first plateau, >= 1.
    factor : float, default=2
        Growth at each plateau, >= 1.
    patience : int, default=1
        Number of failing epochs tolerated; a plateau is ``patience + 1`` of them in a row.
    threshold : float, default=1e-4
        The least improvement that counts, >= 0.
    monitor : {'auto', 'loss', 'val_loss', 'val_score'}, default='auto'
        The record key watched; ``'auto'`` is ``'val_loss'`` if every record has it, else
        ``'loss'``.
    maximum : int or None, default=None
        Largest batch size (>= initial); None means the number of samples.

    Examples
    --------
    >>> history = [{"loss": 1.0}, {"loss": 1.0}, {"loss": 1.0}]
    >>> GrowBatchSizeOnPlateau(initial=8).batch_size(3, history, n_samples=100)
    16
    """

    def __init__(
        self, initial=32, factor=2, patience=1, threshold=1e-4, monitor="auto", maximum=None
    ):
        self.initial = initial
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.monitor = monitor
        self.maximum = maximum

    def _check_params(self):
        owner = "GrowBatchSizeOnPlateau"
        self._check_common(owner)
        _check_int(owner, "patience", self.patience, 0)
        _check_real(owner, "threshold", self.threshold, 0)
        _check_option(owner, "monitor", self.monitor, _MONITORS)

    def _n_growths(self, epoch, history):
        return sum(_plateau_ends(history, self.monitor, int(self.patience), float(self.threshold)))


def check_batch_size(batch_size):
    """The estimators' ``batch_size`` parameter, checked: an int >= 1, ``'full'``, ``'auto'``
    or a batch-size schedule instance.

    The batch-size counterpart of :func:`as_schedule`: a schedule's parameters are checked,
    and a schedule class passed instead of an instance is rejected, before training starts.

    Parameters
    ----------
    batch_size : int, 'full', 'auto' or batch-size schedule
        The value to check.

    Returns
    -------
    batch_size : int, 'full', 'auto' or batch-size schedule
        ``batch_size`` itself.

    Raises
    ------
    ValueError
        If a schedule's parameter is invalid, or ``batch_size`` is not one of the above (a
        :class:`ValueError` that is also a :class:`TypeError`, as scikit-learn's
        ``InvalidParameterError``).

    Examples
    --------
    >>> check_batch_size(GrowBatchSize(initial=16))
    GrowBatchSize(initial=16)
    >>> try:
    ...     check_batch_size(GrowBatchSize)
    ... except TypeError as error:
    ...     print(error)
    batch_size must be a schedule instance, not a class: pass GrowBatchSize(), not GrowBatchSize.
    """
    if callable(getattr(batch_size, "batch_size", None)):
        _reject_class("batch_size", batch_size)
        if isinstance(batch_size, _BatchSizeSchedule):
            batch_size._check_params()
        return batch_size
    is_named = isinstance(batch_size, str) and batch_size in ("full", "auto")
    if is_named or (_is_number(batch_size, Integral) and batch_size >= 1):
        return batch_size
    raise _ParameterError(
        f"batch_size must be an int >= 1, 'full', 'auto' or a batch-size schedule from "
        f"skminibatch.schedules (an object with a batch_size(epoch, history, n_samples) "
        f"method); got {batch_size!r}."
    )


# ---------------------------------------------------------------------------------------------
# Learning rate and batch size together
# ---------------------------------------------------------------------------------------------


def scale_learning_rate(learning_rate, old_batch_size, new_batch_size, rule="linear"):
    """The learning rate for a new batch size, by the linear or square-root scaling rule.

    ``rule='linear'`` (Goyal et al. 2017, "Accurate, large minibatch SGD"):
    ``learning_rate * new_batch_size / old_batch_size``, which keeps the expected change of the
    weights per sample seen. ``rule='sqrt'``: ``learning_rate * sqrt(new / old)``, which keeps
    the variance of an update's noise (often preferred with Adam).

    Parameters
    ----------
    learning_rate : float
        The learning rate that suits ``old_batch_size``; > 0.
    old_batch_size, new_batch_size : int
        Batch sizes, >= 1.
    rule : {'linear', 'sqrt'}, default='linear'
        The scaling rule.

    Returns
    -------
    learning_rate : float

    Examples
    --------
    >>> scale_learning_rate(0.1, 256, 1024)
    0.4
    >>> scale_learning_rate(0.1, 256, 1024, rule="sqrt")
    0.2
    """
    owner = "scale_learning_rate"
    _check_real(owner, "learning_rate", learning_rate, 0, low_open=True)
    _check_int(owner, "old_batch_size", old_batch_size, 1)
    _check_int(owner, "new_batch_size", new_batch_size, 1)
    _check_option(owner, "rule", rule, ("linear", "sqrt"))
    ratio = int(new_batch_size) / int(old_batch_size)
    return float(learning_rate) * (ratio if rule == "linear" else math.sqrt(ratio))
