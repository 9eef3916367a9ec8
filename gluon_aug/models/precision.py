"""``--dtype bfloat16``: convolutions and dense layers compute in bfloat16.

MXNet's AMP (``mxnet.contrib.amp.init``) patches the legacy operators only:
in numpy mode (the book's, and ours) it changes nothing, and its loss scaler
fails there. bfloat16 needs no loss scaling, so this does what AMP does by
hand: each ``Conv2D`` and ``Dense`` casts its input, weight and bias to
bfloat16 (MXNet's ``amp_cast``, whose gradient casts back), so the weights
the Trainer updates stay float32 master copies and their gradients arrive in
float32. Activations stay bfloat16 between the layers (BatchNorm takes
bfloat16 data with its float32 scale, shift and statistics, as oneDNN does),
and the net's output is cast back to float32 for the loss and the metrics.

On CPUs with AMX this runs on oneDNN's AMX kernels once the process has
switched AMX on (``train/amx.py``); on AVX512_BF16 CPUs on its
avx512_core_bf16 kernels.

d2l's ``Residual`` blocks then run their relu and their sum with MXNet's legacy
``Activation`` and ``elemwise_add``, which have oneDNN kernels, instead of
numpy mode's ``npx.relu`` and ``+``, which have none and in bfloat16 cost more
than the convolutions between them (profiled: docs/BENCHMARKS.md). The same
values; the book's class is untouched, only these instances.
"""
from mxnet.contrib.amp.amp import bfloat16

from .._mxnet import legacy, nn
from ..book.resnet import Residual
from ..errors import UsageError

DTYPES = ('float32', 'bfloat16')


def check_bf16_cpu(cpuinfo='/proc/cpuinfo'):
    """UsageError unless this CPU has AVX-512 (oneDNN 2.4 has no bfloat16 kernels
    below it); without AVX512_BF16 or AMX it emulates them, slowly."""
    try:
        with open(cpuinfo) as f:
            flags = next((line for line in f if line.startswith('flags')), '').split()
    except OSError:
        return   # not Linux: let oneDNN decide
    if 'avx512f' not in flags:
        raise UsageError("--dtype bfloat16 needs a CPU with AVX-512 (oneDNN 2.4, inside "
                         "MXNet 1.9.1, has no bfloat16 kernels for this one); drop --dtype")


def amp_cast(F, x, dtype):
    """`x` cast to `dtype` by MXNet's amp_cast (a legacy operator)."""
    return legacy(F, 'amp_cast', x, dtype=dtype)


def _relu(F, x):
    return legacy(F, 'Activation', x, act_type='relu')


def _onednn_residual(block):
    """`block` (d2l's ``Residual``) computing what its own forward computes, with the
    legacy relu and sum (module docstring)."""
    def hybrid_forward(F, X):
        Y = block.bn2(block.conv2(_relu(F, block.bn1(block.conv1(X)))))
        return _relu(F, legacy(F, 'elemwise_add', Y, block.conv3(X) if block.conv3 else X))
    block.hybrid_forward = hybrid_forward


def _computing_in(block, dtype):
    """Make `block` (a Conv2D or Dense) cast its input and parameters to `dtype`."""
    forward = block.hybrid_forward

    def hybrid_forward(F, x, weight, bias=None):
        cast = [amp_cast(F, v, dtype) if v is not None else None for v in (x, weight, bias)]
        return forward(F, *cast[:2], **({} if bias is None else {'bias': cast[2]}))
    block.hybrid_forward = hybrid_forward


def _returning_float32(net):
    forward = net.hybrid_forward

    def hybrid_forward(F, x, *args, **kwargs):
        return amp_cast(F, forward(F, x, *args, **kwargs), 'float32')
    net.hybrid_forward = hybrid_forward


def compute_in(net, dtype):
    """Set `net` (a HybridBlock, or a ``LegacyAdapter``'s inner one) to compute its
    convolutions and dense layers in `dtype`; returns `net`. Call it before
    ``hybridize()``; float32 leaves the net as it is."""
    if dtype == 'float32':
        return net
    if dtype != 'bfloat16':
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    top = getattr(net, 'inner', net)
    layers, residuals = [], []

    def visit(block):
        if isinstance(block, (nn.Conv2D, nn.Dense)):
            layers.append(block)
        if isinstance(block, Residual):
            residuals.append(block)
        for child in block._children.values():
            visit(child)
    visit(top)
    if not layers:
        raise ValueError(f"{type(top).__name__} has no Conv2D or Dense layer to cast")
    for block in layers:
        _computing_in(block, bfloat16)
    for block in residuals:
        _onednn_residual(block)
    _returning_float32(top)
    return net
