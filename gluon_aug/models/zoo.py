"""Models by name: d2l's ResNet-18, fastnet, and GluonCV's CIFAR zoo in numpy mode.

``get_model(name)`` builds one. GluonCV's models are legacy-NDArray code and
fail under ``npx.set_np()``; ``LegacyAdapter`` runs them in a legacy scope and
converts at the boundary.
"""
import contextlib

from .._mxnet import mx, nn
from ..book.resnet import resnet18
from ..errors import UsageError
from .fastnet import FASTNETS


@contextlib.contextmanager
def _legacy_scope():
    """MXNet's legacy NDArray semantics, inside numpy-mode code."""
    with mx.util.np_array(False), mx.util.np_shape(False):
        yield


class LegacyAdapter(nn.Block):
    """Run a legacy-NDArray Gluon model (e.g. GluonCV's) from numpy-mode code.

    Inputs are converted with ``as_nd_ndarray()``, outputs back with
    ``as_np_ndarray()``; parameters stay legacy NDArrays, which ``Trainer``
    and the initializers handle. ``hybridize()`` reaches the inner model.
    """

    def __init__(self, build, **kwargs):
        super().__init__(**kwargs)
        with _legacy_scope():
            self.inner = build()

    def initialize(self, *args, **kwargs):
        with _legacy_scope():
            return super().initialize(*args, **kwargs)

    def save_parameters(self, *args, **kwargs):
        with _legacy_scope():  # numpy mode would reject the legacy NDArrays
            return super().save_parameters(*args, **kwargs)

    def load_parameters(self, *args, **kwargs):
        with _legacy_scope():
            return super().load_parameters(*args, **kwargs)

    def forward(self, x):
        with _legacy_scope():
            return self.inner(x.as_nd_ndarray()).as_np_ndarray()


def native_scope(net):
    """The array semantics `net`'s parameters live in: legacy NDArray for a
    ``LegacyAdapter``, numpy mode (as set) otherwise."""
    return _legacy_scope() if isinstance(net, LegacyAdapter) else contextlib.nullcontext()


def native_block(net):
    """The HybridBlock that computes `net`: a ``LegacyAdapter``'s inner model, else `net`."""
    return net.inner if isinstance(net, LegacyAdapter) else net


def reset_statistics(net, ctx):
    """Give the parameters that are not trained (BatchNorm's running statistics)
    their initial values again, on the devices `ctx`."""
    with native_scope(net):
        for p in net.collect_params().values():
            if p.grad_req == 'null':
                p.initialize(ctx=ctx, force_reinit=True)


def gluoncv_cifar_models():
    """Names of GluonCV's CIFAR models (sorted); empty if GluonCV is missing."""
    try:
        from gluoncv.model_zoo import get_model_list
    except ImportError:
        return []
    return sorted(n for n in get_model_list() if n.startswith('cifar_'))


MODELS = {'resnet18': resnet18, **FASTNETS}   # ours; GluonCV's come by name


def get_model(name, num_classes=10):
    """Build model `name`: ``resnet18`` (d2l), ``fastnet``, ``fastnet-wide`` or a
    GluonCV CIFAR model name."""
    if name in MODELS:
        return MODELS[name](num_classes)
    gluoncv_names = gluoncv_cifar_models()
    if name in gluoncv_names:
        from gluoncv.model_zoo import get_model as gcv_get_model
        return LegacyAdapter(lambda: gcv_get_model(name, classes=num_classes))
    raise UsageError(f"unknown model {name!r}; choose {', '.join(MODELS)} or a GluonCV CIFAR "
                     f"model: {', '.join(gluoncv_names) or '(GluonCV is not installed)'}")
