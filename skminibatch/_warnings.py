"""Warnings attributed to the user's line, however deep in the package they arise."""

import sys
import warnings

# Frames that are ours: the package's, and those of scikit-learn's ``with_callbacks``, which
# wraps our training methods (scikit-learn >= 1.9).
OURS = ("skminibatch.", "sklearn.callback.")


def warn(message, category):
    """``warnings.warn(message, category)`` attributed to the first caller outside
    skminibatch: the user's line, or the library's that called us (scikit-learn's
    cross-validation, say), whether the warning arises in ``fit``, ``partial_fit``,
    ``fit_stream``, a block of an out-of-core fit or a sweep. A fixed ``stacklevel`` points
    into the package from all but one of those paths (Python 3.12's ``skip_file_prefixes``
    does this; 3.11 lacks it).
    """
    frame = sys._getframe(1)
    stacklevel = 2  # the caller of this function
    while frame is not None and frame.f_globals.get("__name__", "").startswith(OURS):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)
