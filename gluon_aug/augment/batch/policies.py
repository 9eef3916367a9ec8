"""Batched twins of the augmentation policies (``augment/policies``).

Each twin draws what its per-sample policy draws, for every sample of the
batch at once, as (N, 1, 1, 1) tensors (one random tensor per choice and
batch, from the device's generator): which op, at which value, with the same
level mappings (``Levels.value``), signs, probabilities and mixing weights.
It then runs the policy's ops in *stages*: a stage gives every sample one op
(Identity when none fires), computed for the whole batch and kept per sample
by 0/1 masks, except that the geometric ops of a stage run as one affine
resampling (a sample with another op gets the identity matrix, which
resamples exactly). So a stage costs every op the policy can draw, whatever
was drawn: the price of one graph with no per-image branch
(docs/POLICIES.md measures it). The ops are ``policy_ops``' twins, equal to
the per-sample ops except rare pixels (its docstring says which). On a CPU
with the fused kernels (``native``) a stage is instead one pass that runs
each sample's own op on its image (``gluon_aug_policy_stage``), to the level
what the masks compute.
Batches are NCHW float in [0, 1], RGB.
"""
from ..policies import augmix, autoaugment, randaugment, trivialaugment
from ..policies.base import Levels
from ..policies.ops import BILINEAR, GEOMETRIC
from ..._mxnet import legacy
from .base import BatchAugmenter, uniform
from .policy_ops import AFFINE, KERNEL_OPS, OPS, affine, geometry_matrix

TINY = 1e-30   # float32 keeps it (its smallest normal is 1.2e-38)
# values a sample gets for an op it did not draw, which keep every op finite
NEUTRAL = {'Posterize': 8, 'Solarize': 256, 'Color': 1, 'Contrast': 1, 'Brightness': 1,
           'Sharpness': 1}


def choice(F, x, n):
    """A uniform integer 0..n-1 per sample, as float (N, 1, 1, 1)."""
    return F.np.minimum(F.np.floor(uniform(F, x, k=None) * n), n - 1)


def coin(F, x, p):
    """1.0 with probability `p` (a number or an (N, 1, 1, 1) tensor), else 0.0, per sample."""
    return (uniform(F, x, k=None) < p).astype('float32')


def masks(op, names):
    """{name: 1.0 where `op` (indices into `names`) is that name, else 0.0}."""
    return {name: (op == k).astype('float32') for k, name in enumerate(names)}


def select(mask, values):
    """Per sample, values[name] of the name its `mask` marks (0 for names not in `values`)."""
    return sum(mask[name] * v for name, v in values.items() if v is not None)


def lookup(F, index, keys, values, fused=False, mask=None):
    """Per sample, values[keys[index]] for fixed numbers `values` (0 for a key it lacks or
    holds None): one kernel call when `fused` (``native``), else ``select`` over the
    masks of `index` (`mask`, if made already). The same float32 values either way."""
    if fused:
        table = ','.join(repr(float(values.get(k) or 0)) for k in keys)
        return legacy(F, 'gluon_aug_lookup', index, table=table)
    return select(mask if mask is not None else masks(index, keys), values)


def pick(F, index, keys, values, fused=False, mask=None):
    """Per sample, values[keys[index]] for per-sample (N, 1, 1, 1) tensors `values` (0
    for a key it lacks or holds None): one kernel call when `fused` (a copy of the
    value), else ``select``. The same values either way."""
    if not fused:
        return lookup(F, index, keys, values, mask=mask)   # the same masks and sum
    zero = F.np.zeros_like(index)
    columns = [values[k] if values.get(k) is not None else zero for k in keys]
    return legacy(F, 'gluon_aug_pick', index, *columns, width=len(columns))


def signed(F, x, value, op, names, fused=False, mask=None):
    """`value` with a random sign (p = 0.5) for the samples whose op (an index into
    `names`) is geometric, as the per-sample ``base.signed``."""
    geometric = lookup(F, op, names, {name: 1.0 for name in GEOMETRIC if name in names},
                       fused, mask)
    return value * (1 - 2 * coin(F, x, 0.5) * geometric)


class BatchPolicy(BatchAugmenter):
    """Base: stages of one op per sample. ``names``: the ops a stage can hold (an
    op is its index there, so 'Identity' must be one); ``fill`` and ``bilinear``
    are the per-sample policy's, ``policy`` its class."""

    policy = None
    names = ()

    @property
    def fill(self):
        return self.policy.fill

    @property
    def bilinear(self):
        return self.policy.resample == BILINEAR

    def set_channels(self, channels, height=None, native_kernels=False):
        if channels != 3:
            raise ValueError(f"{type(self).__name__} works on RGB batches (C = 3), "
                             f"got C = {channels}")
        return super().set_channels(channels, height, native_kernels)

    def stage(self, F, x, op, value):
        """Every sample's op `op` (an index into ``names``) at `value`."""
        if self._native:
            return self.fused_stage(F, x, op, value)
        mask = masks(op, self.names)
        out = x
        geometric = any(name in mask for name in GEOMETRIC)
        if geometric:
            shifts = {name: mask[name] * value if name in mask else 0 for name in GEOMETRIC}
            matrix = geometry_matrix(F, x, shifts['ShearX'], shifts['ShearY'],
                                     shifts['TranslateX'], shifts['TranslateY'], shifts['Rotate'])
            out = affine(F, x, matrix, self.fill, self.bilinear)
        for name in self.names:
            if name in GEOMETRIC or name == 'Identity':
                continue
            m = mask[name]
            own = value * m + NEUTRAL.get(name, 0) * (1 - m)
            out = out * (1 - m) + OPS[name](F, x, own) * m   # exact for m in {0, 1}
        return out

    def fused_stage(self, F, x, op, value):
        """The stage as one kernel pass: each sample's op (``KERNEL_OPS``; the geometric
        ops, and Identity beside them, the affine resampling by the matrix the masks path
        computes, computed in the kernel) on its image. One operator where the masks, the
        matrix and the codes took ~100 small ones."""
        fill = self.fill if isinstance(self.fill, (tuple, list)) else (self.fill,) * 3
        return legacy(F, 'gluon_aug_policy_stage', x, op, value, bilinear=int(self.bilinear),
                      fill=','.join(str(float(v)) for v in fill), ops=self.kernel_codes())

    def kernel_codes(self):
        """Each op index's code in the kernel: ``KERNEL_OPS``, -1 .. -5 for the geometric
        ops (their value goes into the matrix), and Identity the affine resampling by the
        identity matrix in a stage that holds geometric ops."""
        geometric = any(name in GEOMETRIC for name in self.names)
        codes = [-1 - GEOMETRIC.index(name) if name in GEOMETRIC
                 else AFFINE if name == 'Identity' and geometric else KERNEL_OPS[name]
                 for name in self.names]
        return ','.join(str(c) for c in codes)

    def stages(self, F, x, params):
        """Run the stages [op, value, op, value, ...] in order."""
        for op, value in zip(params[::2], params[1::2]):
            x = self.stage(F, x, op, value)
        return x

    def apply(self, F, x, *params):
        return self.stages(F, x, params)


class BatchAutoAugment(BatchPolicy):
    """``AutoAugment``, batched: a sub-policy per sample, then its two ops, each firing
    with its probability (two stages)."""

    policy = autoaugment.AutoAugment

    def __init__(self, policy=autoaugment.CIFAR10_POLICY):
        super().__init__()
        self.table = policy
        seen = [op for row in policy for op, _, _ in row]
        self.names = ('Identity',) + tuple(dict.fromkeys(n for n in seen if n != 'Identity'))

    def draw(self, F, x):
        row = choice(F, x, len(self.table))
        rows, fused = range(len(self.table)), self._native
        mask = None if fused else masks(row, rows)
        params = []
        for slot in range(2):
            ops = [r[slot] for r in self.table]
            op = lookup(F, row, rows, {k: self.names.index(o) for k, (o, _, _) in enumerate(ops)},
                        fused, mask)
            p = lookup(F, row, rows, {k: prob for k, (_, prob, _) in enumerate(ops)}, fused, mask)
            value = lookup(F, row, rows, {k: autoaugment.level_value(o, level)
                                          for k, (o, _, level) in enumerate(ops)}, fused, mask)
            fires = coin(F, x, p)
            op = op * fires                     # Identity (index 0) where it does not fire
            params += [op, signed(F, x, value, op, self.names, fused)]
        return params

    def __repr__(self):
        return f'{type(self).__name__}(CIFAR-10, {len(self.table)} sub-policies)'


class BatchRandAugment(BatchPolicy):
    """``RandAugment``, batched: `num_ops` stages, each a uniform op at magnitude M."""

    policy = randaugment.RandAugment
    names = randaugment.OPS

    def __init__(self, num_ops=3, magnitude=5):
        super().__init__()
        randaugment.RandAugment(num_ops, magnitude)   # the same checks
        self.num_ops, self.magnitude = num_ops, magnitude

    def draw(self, F, x):
        values = {name: autoaugment.level_value(name, self.magnitude) for name in self.names}
        params = []
        fused = self._native
        for _ in range(self.num_ops):
            op = choice(F, x, len(self.names))
            mask = None if fused else masks(op, self.names)
            value = lookup(F, op, self.names, values, fused, mask)
            params += [op, signed(F, x, value, op, self.names, fused, mask)]
        return params

    def __repr__(self):
        return f'{type(self).__name__}(num_ops={self.num_ops}, magnitude={self.magnitude})'


def level_values(F, levels: Levels, names, level):
    """{name: its value at the per-sample `level` tensor} (None for ops without one)."""
    return {name: levels.value(name, level, trunc=F.np.floor) for name in names}


class BatchTrivialAugmentWide(BatchPolicy):
    """``TrivialAugmentWide``, batched: one stage, a uniform op at a uniform strength."""

    policy = trivialaugment.TrivialAugmentWide
    names = randaugment.OPS

    def draw(self, F, x):
        op = choice(F, x, len(self.names))
        level = choice(F, x, trivialaugment.STRENGTHS)
        fused = self._native
        mask = None if fused else masks(op, self.names)
        value = pick(F, op, self.names, level_values(F, trivialaugment.WIDE, self.names, level),
                     fused, mask)
        return [op, signed(F, x, value, op, self.names, fused, mask)]

    def __repr__(self):
        return f'{type(self).__name__}()'


class BatchAugMix(BatchPolicy):
    """``AugMix``, batched: `width` chains of up to three stages (a chain of depth d
    holds Identity in its stages after d), mixed by Dirichlet weights, then with the
    original by m ~ Beta(alpha, alpha), both from Gamma(alpha) draws."""

    policy = augmix.AugMix
    names = ('Identity',) + augmix.OPS
    MAX_DEPTH = 3   # depth -1 draws 1..3, as the per-sample policy

    def __init__(self, severity=3, width=3, depth=-1, alpha=1.0):
        super().__init__()
        augmix.AugMix(severity, width, depth, alpha)   # the same checks
        self.severity, self.width, self.depth, self.alpha = severity, width, depth, alpha

    def gamma(self, F, x, k):
        z = F.np.zeros_like(x[:, :1, :1, :1]).reshape(-1, 1)
        return F.np.random.gamma(F.np.tile(z, (1, k)) + self.alpha, 1.0)   # (N, k)

    def draw(self, F, x):
        # a small alpha draws float32 gammas of exactly 0: + TINY keeps 0 / 0 out (all 0:
        # equal weights, m = 0.5), and moves nothing else
        g = self.gamma(F, x, self.width) + TINY
        weights = g / g.sum(axis=1, keepdims=True)
        pair = self.gamma(F, x, 2) + TINY
        m = (pair[:, :1] / pair.sum(axis=1, keepdims=True)).reshape(-1, 1, 1, 1)
        params = [weights, m]
        stages = self.depth if self.depth > 0 else self.MAX_DEPTH
        fused = self._native
        for _ in range(self.width):
            depth = self.depth if self.depth > 0 else choice(F, x, self.MAX_DEPTH) + 1
            for j in range(stages):
                op = choice(F, x, len(self.names) - 1) + 1       # not Identity
                level = uniform(F, x, 0.1, self.severity, k=None)
                mask = None if fused else masks(op, self.names)
                value = signed(F, x, pick(F, op, self.names, level_values(
                    F, augmix.LEVELS, self.names, level), fused, mask), op, self.names, fused,
                    mask)
                active = (depth > j).astype('float32') if self.depth <= 0 else 1
                params += [op * active, value]
        return params

    def apply(self, F, x, weights, m, *params):
        per_chain = len(params) // self.width
        chains = [self.stages(F, x, params[i * per_chain:(i + 1) * per_chain])
                  for i in range(self.width)]
        if self._native:   # the same sums in one pass (kernels.cc, gluon_aug_mix)
            return legacy(F, 'gluon_aug_mix', x, *chains, weights, m.reshape(-1, 1),
                          width=self.width)
        mix = 0
        for i, chain in enumerate(chains):
            mix = mix + weights[:, i:i + 1].reshape(-1, 1, 1, 1) * chain
        return (1 - m) * x + m * mix

    def __repr__(self):
        return (f'{type(self).__name__}(severity={self.severity}, width={self.width}, '
                f'depth={self.depth}, alpha={self.alpha})')


def twin_of(policy):
    """The batched twin of a per-sample policy, with its parameters."""
    if isinstance(policy, augmix.AugMix):
        return BatchAugMix(policy.severity, policy.width, policy.depth, policy.alpha)
    if isinstance(policy, autoaugment.AutoAugment):
        return BatchAutoAugment(policy.policy)
    if isinstance(policy, randaugment.RandAugment):
        return BatchRandAugment(policy.num_ops, policy.magnitude)
    if isinstance(policy, trivialaugment.TrivialAugmentWide):
        return BatchTrivialAugmentWide()
    raise ValueError(f"no batched twin of the policy {policy!r}")
