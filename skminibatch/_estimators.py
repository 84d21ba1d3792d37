"""MiniBatchMLPClassifier and MiniBatchRegressor: parameters, validation, fitted attributes.

No loops and no math here: the estimators validate what they are given, hand canonical arrays to
:func:`skminibatch._trainer.train`, and expose the result as scikit-learn's fitted attributes.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_regressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _kernels, _network, _validation
from ._history import History
from ._trainer import PlateauStopper, TrainingState, train


class _BaseMiniBatchMLP(BaseEstimator):
    """Everything the classifier and the regressor share; see their docstrings."""

    _parameter_constraints = _validation.PARAMETER_CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        weight_init="glorot_uniform",
        solver="adam",
        alpha=0.0001,
        batch_size=32,
        drop_last=False,
        learning_rate_init=0.001,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.weight_init = weight_init
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def _fit(
        self,
        X,
        y,
        sample_weight,
        *,
        incremental,
        classes=None,
        coefs_init=None,
        intercepts_init=None,
    ):
        _validation.check_params(self)
        hidden_layer_sizes = _validation.hidden_layer_sizes_tuple(self.hidden_layer_sizes)
        fitted = hasattr(self, "coefs_")
        given_init = coefs_init is not None or intercepts_init is not None
        fresh = not fitted or not (incremental or self.warm_start) or given_init
        dtype = None if fresh else self.coefs_[0].dtype
        X, y = _validation.check_X_y(
            self, X, y, reset=fresh, dtype=dtype, y_numeric=is_regressor(self)
        )
        Y = self._network_targets(y, X.dtype, fresh, incremental, classes)
        sample_weight = _validation.check_sample_weight(sample_weight, X)
        layer_sizes = _network.make_layer_sizes(X.shape[1], hidden_layer_sizes, Y.shape[1])
        n_state = _kernels.SOLVER_STATE_SLOTS[self.solver] * _network.n_parameters(layer_sizes)

        if fresh:
            self._random_state = check_random_state(self.random_state)
            if not given_init:
                theta = _network.initial_parameters(
                    layer_sizes, self.weight_init, self._random_state, X.dtype
                )
            else:
                coefs, intercepts = _validation.initial_weights(
                    coefs_init, intercepts_init, layer_sizes
                )
                theta = _network.pack(coefs, intercepts, layer_sizes, X.dtype)
            state = TrainingState(theta, np.zeros(n_state, X.dtype))
            self.history_ = History()
        else:
            fitted_sizes = _network.layer_sizes_of(self.coefs_).tolist()
            if fitted_sizes != layer_sizes.tolist():
                raise ValueError(
                    f"The network was fitted with layer sizes {fitted_sizes}; with the current "
                    f"parameters and data it would have {layer_sizes.tolist()}. Call fit "
                    f"without warm_start to start a new network."
                )
            theta = _network.pack(self.coefs_, self.intercepts_, layer_sizes, X.dtype)
            optimizer_state = self._optimizer_state
            if optimizer_state.size != n_state:  # the solver was changed: start its state anew
                optimizer_state = np.zeros(n_state, X.dtype)
            state = TrainingState(theta, optimizer_state.copy(), self.n_updates_, self.t_)

        status = train(
            X, Y, sample_weight, layer_sizes, state, _validation.training_config(self, self._loss),
            self._random_state, incremental=incremental, history=self.history_,
            max_epochs=1 if incremental else self.max_iter,
            stopper=None if incremental else PlateauStopper(self.tol, self.n_iter_no_change),
        )  # fmt: skip
        self.coefs_, self.intercepts_ = _network.unpack(state.theta, layer_sizes)
        self._optimizer_state = state.optimizer_state
        self.n_updates_ = state.n_updates
        self.t_ = state.n_samples_seen
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = self.history_["loss"]
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        self.n_layers_ = len(layer_sizes)
        self.n_outputs_ = int(Y.shape[1])
        if status == "max_iter" and not incremental and self.tol is not None:
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the "
                f"optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _raw_outputs(self, X):
        """Network outputs for X: probabilities for the classifier, values for the regressor."""
        check_is_fitted(self, "coefs_")
        X = _validation.check_X(self, X, reset=False, dtype=self.coefs_[0].dtype)
        layer_sizes = _network.layer_sizes_of(self.coefs_)
        theta = _network.pack(self.coefs_, self.intercepts_, layer_sizes, X.dtype)
        outputs = np.empty((X.shape[0], layer_sizes[-1]), dtype=X.dtype)
        _kernels.predict_outputs(
            X,
            theta,
            layer_sizes,
            _kernels.ACTIVATIONS[self.activation],
            _kernels.LOSSES[self._loss],
            outputs,
        )
        return outputs


_PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of int, default=(100,)
        Units of each hidden layer. ``()`` gives no hidden layer: a linear model.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation of the hidden layers.
    weight_init : {'glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal'}, \
default='glorot_uniform'
        Initial weights, as Keras defines these initialisers; biases start at zero.
    solver : {'sgd', 'adam'}, default='adam'
        Update rule, exactly as documented for ``torch.optim.SGD`` (with ``momentum`` and
        ``nesterovs_momentum``) and ``torch.optim.Adam``.
    alpha : float, default=0.0001
        L2 penalty: the objective is ``mean loss + alpha / 2 * ||W||^2`` over all weights (not
        biases), whatever the batch size. scikit-learn's MLP divides the penalty by the batch
        size instead, so its ``alpha`` means more regularisation at small batches.
    batch_size : int >= 1 or 'full', default=32
        Samples per gradient update. 1 is stochastic gradient descent (n updates per epoch),
        ``'full'`` is batch gradient descent (one update per epoch), anything between is
        mini-batch gradient descent. A value larger than the training set is clipped to it.
    drop_last : bool, default=False
        Drop the last partial batch of each epoch. By default it is kept: 1050 samples with
        ``batch_size=100`` make 11 updates per epoch, the last on 50 samples.
    learning_rate_init : float, default=0.001
        Learning rate.
    momentum : float in [0, 1], default=0.9
        Momentum of 'sgd'. 0 gives plain stochastic gradient descent.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for 'sgd' (when ``momentum > 0``).
    beta_1, beta_2 : float in [0, 1), default=0.9 and 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's term added to the denominator.
    max_iter : int, default=200
        Epochs (passes over the training data) of ``fit``.
    shuffle : bool, default=True
        Reshuffle the training data before every epoch.
    tol : float or None, default=1e-4
        ``fit`` stops when the training loss has not improved by at least ``tol`` for more than
        ``n_iter_no_change`` consecutive epochs. ``None`` runs all ``max_iter`` epochs, as Keras
        does.
    n_iter_no_change : int, default=10
        Epochs without improvement tolerated before stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the shuffling. The same seed and data give bit-identical
        weights.
    warm_start : bool, default=False
        Continue from the fitted weights and optimizer state in ``fit``.
    verbose : int, default=0
        Print one line per epoch."""

_ATTRIBUTES_DOC = """
    coefs_ : list of ndarray
        Weight matrix of each layer, shape ``(n_units_in, n_units_out)``.
    intercepts_ : list of ndarray
        Bias vector of each layer.
    n_iter_ : int
        Epochs run, over all calls of ``fit`` (with ``warm_start``) and ``partial_fit``.
    t_ : int
        Training samples seen.
    n_updates_ : int
        Optimizer steps taken.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch (penalty included).
    history_ : History
        One record per epoch with its ``epoch``, ``loss``, ``batch_size``, ``n_updates``,
        ``learning_rate`` and ``seconds``; ``history_["loss"]`` lists one key.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit``, when X has them.
    n_layers_ : int
        Layers, input and output included.
    n_outputs_ : int
        Output units."""


class MiniBatchMLPClassifier(ClassifierMixin, _BaseMiniBatchMLP):
    __doc__ = f"""Multilayer perceptron classifier trained by batch, mini-batch or stochastic
    gradient descent in compiled code.

    Minimises log loss: softmax cross-entropy for multiclass targets, logistic loss for binary
    and multilabel ones. The parameters are those of scikit-learn's ``MLPClassifier`` where the
    meaning is the same.

    Parameters
    ----------{_PARAMETERS_DOC}

    Attributes
    ----------
    classes_ : ndarray
        Class labels (for multilabel targets, the label columns 0..n_labels-1).{_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skminibatch import MiniBatchMLPClassifier
    >>> X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> clf = MiniBatchMLPClassifier(hidden_layer_sizes=(20,), batch_size=16, tol=None,
    ...                              max_iter=20, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.history_[-1]["n_updates"]  # ceil(300 / 16) updates per epoch
    19
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    @property
    def _loss(self):
        return "softmax_log_loss" if self._target_type == "multiclass" else "logistic_log_loss"

    def _network_targets(self, y, dtype, fresh, incremental, classes):
        y, target_type = _validation.check_classification_targets(y)
        if fresh:
            if incremental and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = _validation.classes_from(y, target_type, classes)
            self._target_type = (
                "multiclass" if target_type == "binary" and self.classes_.size > 2 else target_type
            )
        else:
            _validation.check_same_target_kind(target_type, self._target_type)
            if classes is not None and not np.array_equal(
                _validation.classes_from(y, target_type, classes), self.classes_
            ):
                raise ValueError(
                    f"classes={classes!r} differs from the classes of earlier calls, "
                    f"{self.classes_.tolist()!r}."
                )
        return _validation.classification_targets(y, self.classes_, self._target_type, dtype)

    def fit(self, X, y, sample_weight=None, *, coefs_init=None, intercepts_init=None):
        """Train for up to ``max_iter`` epochs on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 trains in float32, anything else in float64.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a binary indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: each batch's gradient is the weighted mean of its samples'.
        coefs_init, intercepts_init : list of ndarray, default=None
            Initial weights and biases, shaped like ``coefs_`` and ``intercepts_``.

        Returns
        -------
        self : MiniBatchMLPClassifier
        """
        return self._fit(
            X,
            y,
            sample_weight,
            incremental=False,
            coefs_init=coefs_init,
            intercepts_init=intercepts_init,
        )

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y) in batches of ``batch_size``, keeping the optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like, default=None
            All class labels. Required on the first call, as in scikit-learn.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MiniBatchMLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        proba = self._raw_outputs(X)
        if self._target_type == "binary":
            return np.hstack([1.0 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class of each sample (each label above 0.5 for multilabel)."""
        proba = self._raw_outputs(X)
        if self._target_type == "multilabel-indicator":
            return (proba > 0.5).astype(int)
        if self._target_type == "binary":
            return self.classes_[(proba[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MiniBatchRegressor(RegressorMixin, _BaseMiniBatchMLP):
    __doc__ = f"""Multilayer perceptron regressor trained by batch, mini-batch or stochastic
    gradient descent in compiled code.

    With ``hidden_layer_sizes=()`` it is linear regression. The parameters are those of
    scikit-learn's ``MLPRegressor`` where the meaning is the same.

    Parameters
    ----------
    loss : {{'squared_error', 'huber', 'absolute_error'}}, default='squared_error'
        Per-sample loss, averaged over outputs: half the squared error (as scikit-learn's MLP,
        so learning rates carry over), Huber's loss with threshold ``huber_delta``, or the
        absolute error.
    huber_delta : float, default=1.0
        Residual at which the Huber loss turns from quadratic to linear.{_PARAMETERS_DOC}

    Attributes
    ----------{_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skminibatch import MiniBatchRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
    >>> reg = MiniBatchRegressor(hidden_layer_sizes=(), solver="sgd", momentum=0.0,
    ...                          learning_rate_init=0.01, batch_size=1, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.99
    True
    >>> reg.coefs_[0].shape  # linear regression: one layer
    (5, 1)
    """

    _parameter_constraints = _validation.REGRESSOR_PARAMETER_CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
        huber_delta=1.0,
        weight_init="glorot_uniform",
        solver="adam",
        alpha=0.0001,
        batch_size=32,
        drop_last=False,
        learning_rate_init=0.001,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            weight_init=weight_init,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            drop_last=drop_last,
            learning_rate_init=learning_rate_init,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            max_iter=max_iter,
            shuffle=shuffle,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
        )
        self.loss = loss
        self.huber_delta = huber_delta

    @property
    def _loss(self):
        return self.loss

    def _network_targets(self, y, dtype, fresh, incremental, classes):
        return _validation.regression_targets(y, dtype)

    def fit(self, X, y, sample_weight=None, *, coefs_init=None, intercepts_init=None):
        """Train for up to ``max_iter`` epochs on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 trains in float32, anything else in float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: each batch's gradient is the weighted mean of its samples'.
        coefs_init, intercepts_init : list of ndarray, default=None
            Initial weights and biases, shaped like ``coefs_`` and ``intercepts_``.

        Returns
        -------
        self : MiniBatchRegressor
        """
        return self._fit(
            X,
            y,
            sample_weight,
            incremental=False,
            coefs_init=coefs_init,
            intercepts_init=intercepts_init,
        )

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y) in batches of ``batch_size``, keeping the optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MiniBatchRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted targets, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        outputs = self._raw_outputs(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
