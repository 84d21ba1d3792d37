import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The first example of a property pays the kernels' JIT compilation: no deadline.
settings.register_profile(
    "default", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def subprocess_env():
    """``os.environ`` for a child Python that imports the skminibatch under test.

    ``PYTHONPATH`` starts with the directory holding the package this process imported, so a
    child started elsewhere (``cwd=tmp_path``) does not import an installed copy instead.
    """
    import skminibatch

    root = str(Path(skminibatch.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}
