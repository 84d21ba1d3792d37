"""The peers timed side by side: ours, scikit-learn's MLP, a plain PyTorch loop and skorch.

Every peer trains the same network (the workload's hidden layers, relu, softmax cross-entropy or
squared error) with SGD, Nesterov momentum 0.9, the workload's learning rate, no penalty and a
fresh shuffle every epoch. One call of :meth:`Peer.epoch` is one epoch over the peer's rows,
including whatever the library does per call (input validation, shuffling, allocation): a user
pays it once per epoch as well.

PyTorch and skorch are optional: :func:`available_peers` leaves out a peer whose library is not
installed and says why.
"""

import importlib.util
import warnings

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor

MOMENTUM = 0.9
SEED = 0


def _updates(n_rows, batch_size):
    return 1 if batch_size == "full" else -(-n_rows // batch_size)


class Peer:
    """One library's estimator on the first ``rows`` rows of (X, y) at one batch size."""

    name = "peer"
    label = "peer"
    #: whether it may be timed on a subset of the rows and scaled per sample
    may_use_subset = True

    def __init__(self, workload, X, y, batch_size, rows):
        self.workload = workload
        self.X = X[:rows]
        self.y = y[:rows]
        self.rows = rows
        self.batch_size = batch_size
        self.dtype = X.dtype
        self.classes = np.unique(y) if workload.task == "classification" else None

    def first_epoch(self):
        """The first (untimed) epoch: builds the model."""
        self.epoch()

    def epoch(self):
        raise NotImplementedError

    def check(self):
        """Raise unless the last epoch ran to completion with a finite loss."""

    def set_threads(self, n_threads):
        """Set this library's own thread count (beyond threadpoolctl's BLAS limits)."""

    def inner_seconds(self):
        """Seconds of the last epoch's training loop alone, where the library records it."""
        return None


class PartialFitPeer(Peer):
    """A scikit-learn-style estimator ``self.model``: one epoch is one ``partial_fit`` call."""

    def first_epoch(self):
        if self.classes is not None:
            self.model.partial_fit(self.X, self.y, classes=self.classes)
        else:
            self.model.partial_fit(self.X, self.y)

    def epoch(self):
        self.model.partial_fit(self.X, self.y)


class Ours(PartialFitPeer):
    name = "ours"
    label = "skminibatch"
    may_use_subset = False

    def __init__(self, workload, X, y, batch_size, rows):
        super().__init__(workload, X, y, batch_size, rows)
        kind = MiniBatchMLPClassifier if workload.task == "classification" else MiniBatchRegressor
        self.model = kind(
            workload.hidden,
            activation="relu",
            solver="sgd",
            momentum=MOMENTUM,
            nesterovs_momentum=True,
            learning_rate_init=workload.learning_rate,
            alpha=0.0,
            batch_size=batch_size,
            tol=None,
            random_state=SEED,
        )

    def inner_seconds(self):
        return self.model.history_[-1].get("seconds")

    def check(self):
        record = self.model.history_[-1]
        if record["n_updates"] != _updates(self.rows, self.batch_size):
            raise RuntimeError(f"skminibatch's epoch was not complete: {record}")
        if not np.isfinite(record["loss"]):
            raise RuntimeError(f"skminibatch's loss is not finite: {record}")
        if self.model.coefs_[0].dtype != self.dtype:
            raise RuntimeError(f"skminibatch trained in {self.model.coefs_[0].dtype}")


class Sklearn(PartialFitPeer):
    name = "sklearn"
    label = "scikit-learn"

    def __init__(self, workload, X, y, batch_size, rows):
        super().__init__(workload, X, y, batch_size, rows)
        common = dict(
            hidden_layer_sizes=workload.hidden,
            activation="relu",
            solver="sgd",
            momentum=MOMENTUM,
            nesterovs_momentum=True,
            learning_rate_init=workload.learning_rate,
            alpha=0.0,
            batch_size=rows if batch_size == "full" else min(batch_size, rows),
            shuffle=True,
            random_state=SEED,
        )
        if workload.task == "classification":
            self.model = MLPClassifier(**common)
        else:
            self.model = MLPRegressor(loss="squared_error", **common)

    def trained_dtype(self):
        return self.model.coefs_[0].dtype

    def check(self):
        if not np.isfinite(self.model.loss_):
            raise RuntimeError(f"scikit-learn's loss is not finite: {self.model.loss_}")


def torch_missing():
    """None when PyTorch can be imported, else why it cannot."""
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed (pip install torch): the PyTorch loop is skipped"
    return None


def skorch_missing():
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed, so skorch is skipped"
    if importlib.util.find_spec("skorch") is None:
        return "skorch is not installed (pip install skorch): skorch is skipped"
    return None


def _torch_module(workload, n_features, n_outputs, dtype):
    import torch

    layers = []
    width = n_features
    for units in workload.hidden:
        layers += [torch.nn.Linear(width, units), torch.nn.ReLU()]
        width = units
    layers.append(torch.nn.Linear(width, n_outputs))
    torch.manual_seed(SEED)
    return torch.nn.Sequential(*layers).to(getattr(torch, np.dtype(dtype).name))


class TorchLoop(Peer):
    """The fastest fair plain PyTorch loop we found (eager mode, no DataLoader).

    Per epoch: ``torch.randperm``; per batch: ``torch.index_select`` of the batch's rows into
    preallocated tensors, ``zero_grad(set_to_none=True)``, forward, loss, backward and one step
    of ``torch.optim.SGD(momentum=0.9, nesterov=True, fused=True)``. Measured on this machine,
    ``fused=True`` beat the default (for-loop) and ``foreach=True`` implementations by 10-15 %
    at batch size 1, and gathering into preallocated tensors beat ``X[idx]`` slightly. The loss
    is never read back per step (no ``.item()``).
    """

    name = "torch"
    label = "PyTorch loop"

    def __init__(self, workload, X, y, batch_size, rows):
        super().__init__(workload, X, y, batch_size, rows)
        import torch

        self.torch = torch
        n_outputs = workload.n_outputs(y)
        self.model = _torch_module(workload, X.shape[1], n_outputs, X.dtype)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=workload.learning_rate,
            momentum=MOMENTUM,
            nesterov=True,
            fused=True,
        )
        self.Xt = torch.from_numpy(np.ascontiguousarray(self.X))
        if workload.task == "classification":
            self.yt = torch.from_numpy(np.searchsorted(self.classes, self.y).astype(np.int64))
            self.loss = torch.nn.CrossEntropyLoss()
        else:
            self.yt = torch.from_numpy(np.ascontiguousarray(self.y, dtype=X.dtype)[:, None])
            self.loss = torch.nn.MSELoss()
        self.step_rows = rows if batch_size == "full" else min(batch_size, rows)
        self.Xb = torch.empty((self.step_rows, *self.Xt.shape[1:]), dtype=self.Xt.dtype)
        self.yb = torch.empty((self.step_rows, *self.yt.shape[1:]), dtype=self.yt.dtype)
        self.last_loss = None

    def set_threads(self, n_threads):
        self.torch.set_num_threads(n_threads)

    def epoch(self):
        torch = self.torch
        n = self.rows
        step_rows = self.step_rows
        Xt, yt, Xb, yb = self.Xt, self.yt, self.Xb, self.yb
        model, optimizer, loss_function = self.model, self.optimizer, self.loss
        permutation = torch.randperm(n)
        for start in range(0, n, step_rows):
            index = permutation[start : start + step_rows]
            if index.numel() == step_rows:
                torch.index_select(Xt, 0, index, out=Xb)
                torch.index_select(yt, 0, index, out=yb)
                xs, ys = Xb, yb
            else:  # the last, partial batch
                xs, ys = Xt[index], yt[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(xs), ys)
            loss.backward()
            optimizer.step()
        self.last_loss = loss

    def check(self):
        if self.last_loss is None or not np.isfinite(float(self.last_loss)):
            raise RuntimeError(f"the PyTorch loop's loss is not finite: {self.last_loss}")


class Skorch(Peer):
    """skorch as a user would set it up: ``NeuralNetClassifier`` / ``NeuralNetRegressor`` with
    its default DataLoader and callbacks, no validation split, one epoch per ``partial_fit``."""

    name = "skorch"
    label = "skorch"

    def __init__(self, workload, X, y, batch_size, rows):
        super().__init__(workload, X, y, batch_size, rows)
        import torch
        from skorch import NeuralNetClassifier, NeuralNetRegressor

        self.torch = torch
        n_outputs = workload.n_outputs(y)
        module = _torch_module(workload, X.shape[1], n_outputs, X.dtype)
        common = dict(
            optimizer=torch.optim.SGD,
            lr=workload.learning_rate,
            optimizer__momentum=MOMENTUM,
            optimizer__nesterov=True,
            batch_size=rows if batch_size == "full" else min(batch_size, rows),
            max_epochs=1,
            train_split=None,
            iterator_train__shuffle=True,
            verbose=0,
            device="cpu",
        )
        if workload.task == "classification":
            self.model = NeuralNetClassifier(
                module, criterion=torch.nn.CrossEntropyLoss, classes=self.classes, **common
            )
            self.y = np.searchsorted(self.classes, self.y).astype(np.int64)
        else:
            self.model = NeuralNetRegressor(module, criterion=torch.nn.MSELoss, **common)
            self.y = np.ascontiguousarray(self.y, dtype=X.dtype)[:, None]
        torch.manual_seed(SEED)

    def set_threads(self, n_threads):
        self.torch.set_num_threads(n_threads)

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.partial_fit(self.X, self.y)

    def check(self):
        loss = self.model.history[-1, "train_loss"]
        if not np.isfinite(loss):
            raise RuntimeError(f"skorch's loss is not finite: {loss}")


ALL_PEERS = {"ours": Ours, "sklearn": Sklearn, "torch": TorchLoop, "skorch": Skorch}


def available_peers(wanted):
    """The peer classes in ``wanted`` whose libraries import, and notes on the others."""
    peers, notes = [], []
    for name in wanted:
        missing = {"torch": torch_missing, "skorch": skorch_missing}.get(name, lambda: None)()
        if missing:
            notes.append(missing)
        else:
            peers.append(ALL_PEERS[name])
    return peers, notes
