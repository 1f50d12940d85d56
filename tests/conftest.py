import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from kernel_harness import Kernel  # noqa: E402


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    try:
        k.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt\nimport numpy as np")
        yield k
    finally:
        k.shutdown()


@pytest.fixture
def fresh_kernel():
    k = Kernel()
    try:
        yield k
    finally:
        k.shutdown()
