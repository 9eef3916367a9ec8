"""Models: d2l's CIFAR ResNet-18 and GluonCV's CIFAR model zoo in numpy mode.

``resnet18(num_classes)`` is d2l's "slightly modified ResNet-18": a 3x3,
stride-1 stem without max-pooling, four residual stages of 64/128/256/512
channels (two blocks each), global average pooling and a dense layer.
``Residual`` is a HybridBlock here (d2l's MXNet file makes it a Block), so
``net.hybridize()`` compiles the whole network into one graph.

GluonCV's models are legacy-NDArray code and fail under ``npx.set_np()``;
``LegacyAdapter`` runs them in a legacy scope and converts at the boundary.
"""
import contextlib

from ._mxnet import mx, nn
from .errors import UsageError


class Residual(nn.HybridBlock):
    """The Residual block of ResNet models (d2l, sec_resnet)."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = nn.Conv2D(num_channels, kernel_size=3, padding=1, strides=strides)
        self.conv2 = nn.Conv2D(num_channels, kernel_size=3, padding=1)
        self.conv3 = (nn.Conv2D(num_channels, kernel_size=1, strides=strides)
                      if use_1x1conv else None)
        self.bn1 = nn.BatchNorm()
        self.bn2 = nn.BatchNorm()

    def hybrid_forward(self, F, X):
        Y = F.npx.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        return F.npx.relu(Y + X)


def resnet18(num_classes):
    """A slightly modified ResNet-18 model (d2l, sec_multi_gpu_concise)."""
    def resnet_block(num_channels, num_residuals, first_block=False):
        blk = nn.HybridSequential()
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.add(Residual(num_channels, use_1x1conv=True, strides=2))
            else:
                blk.add(Residual(num_channels))
        return blk

    net = nn.HybridSequential()
    # This model uses a smaller convolution kernel, stride, and padding and
    # removes the max-pooling layer
    net.add(nn.Conv2D(64, kernel_size=3, strides=1, padding=1),
            nn.BatchNorm(), nn.Activation('relu'))
    net.add(resnet_block(64, 2, first_block=True),
            resnet_block(128, 2),
            resnet_block(256, 2),
            resnet_block(512, 2))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


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


def get_model(name, num_classes=10):
    """Build model `name`: ``resnet18`` (d2l) or a GluonCV CIFAR model name."""
    if name == 'resnet18':
        return resnet18(num_classes)
    gluoncv_names = gluoncv_cifar_models()
    if name in gluoncv_names:
        from gluoncv.model_zoo import get_model as gcv_get_model
        return LegacyAdapter(lambda: gcv_get_model(name, classes=num_classes))
    raise UsageError(f"unknown model {name!r}; choose resnet18 or a GluonCV CIFAR model: "
                     f"{', '.join(gluoncv_names) or '(GluonCV is not installed)'}")


def num_parameters(net):
    """Number of scalar parameters (after initialization)."""
    return sum(int(p.data().size) for p in net.collect_params().values())
