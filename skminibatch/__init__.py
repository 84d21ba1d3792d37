"""skminibatch: scikit-learn estimators trained by batch, mini-batch and stochastic gradient
descent, with every batch's work in compiled code."""

from . import schedules
from ._advisor import NoiseScaleMonitor, gradient_noise_scale, suggest_batch_size
from ._estimators import MiniBatchMLPClassifier, MiniBatchRegressor
from ._history import History
from ._streaming import MemmapBlocks, fit_stream
from ._sweep import SweepResult, batch_size_sweep
from ._trainer import DivergenceError, DivergenceWarning

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "DivergenceWarning",
    "History",
    "MemmapBlocks",
    "MiniBatchMLPClassifier",
    "MiniBatchRegressor",
    "NoiseScaleMonitor",
    "SweepResult",
    "__version__",
    "batch_size_sweep",
    "fit_stream",
    "gradient_noise_scale",
    "schedules",
    "suggest_batch_size",
]
