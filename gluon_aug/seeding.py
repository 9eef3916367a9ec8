"""One place that seeds every random number generator a run draws from."""
import random

import numpy as onp

from ._mxnet import mx


def draw_seed():
    """A fresh seed for a run that was not given one (recorded so it can be repeated)."""
    return random.SystemRandom().randrange(2 ** 31)


def seed_everything(seed):
    """Seed Python's `random`, NumPy (which Gluon's samplers shuffle with) and
    MXNet on every context (which Gluon's random transforms draw from)."""
    random.seed(seed)
    onp.random.seed(seed)
    mx.random.seed(seed)
