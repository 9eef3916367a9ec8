"""One place that seeds every random number generator a run draws from."""
import random

import numpy as onp

from ._mxnet import mx


def draw_seed():
    """A fresh seed for a run that was not given one (recorded so it can be repeated)."""
    return random.SystemRandom().randrange(2 ** 31)


def seed_everything(seed, ctx='all'):
    """Seed Python's `random`, NumPy (which Gluon's samplers shuffle with) and
    MXNet on `ctx` (every context by default; Gluon's random transforms draw
    from the CPU's)."""
    random.seed(seed)
    onp.random.seed(seed)
    mx.random.seed(seed, ctx=ctx)
