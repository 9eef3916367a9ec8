"""Models: d2l's CIFAR ResNet-18 and GluonCV's CIFAR model zoo in numpy mode.

``resnet18(num_classes)`` is d2l's "slightly modified ResNet-18": a 3x3,
stride-1 stem without max-pooling, four residual stages of 64/128/256/512
channels (two blocks each), global average pooling and a dense layer.
``Residual`` is a HybridBlock here (d2l's MXNet file makes it a Block), so
``net.hybridize()`` compiles the whole network into one graph.

``fastnet()`` is the fast recipe's network (``recipes.py``), in the spirit of
airbench94 (Keller Jordan, 2024): a frozen 2x2 patch-whitening convolution
initialized from the data (``init_whitening``), then three blocks of
conv-pool-BatchNorm-GELU-conv-BatchNorm-GELU and a scaled linear head: about
0.07 GMAC per image at widths (48, 192, 192), against ResNet-18's 0.56.

GluonCV's models are legacy-NDArray code and fail under ``npx.set_np()``;
``LegacyAdapter`` runs them in a legacy scope and converts at the boundary.
"""
import contextlib

import numpy as onp

from ._mxnet import mx, nn, np
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


class ConvBlock(nn.HybridBlock):
    """conv3x3 -> maxpool 2 -> BN -> act -> conv3x3 -> BN -> act (fastnet's stage)."""

    def __init__(self, c_in, c_out, act='gelu', bn_momentum=0.6, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = nn.Conv2D(c_out, 3, padding=1, use_bias=False, in_channels=c_in)
        self.conv2 = nn.Conv2D(c_out, 3, padding=1, use_bias=False, in_channels=c_out)
        self.pool = nn.MaxPool2D(2)
        # no scale (gamma fixed at 1), as airbench; MXNet's momentum keeps `m` of the
        # running statistics per step
        self.norm1, self.norm2 = (nn.BatchNorm(momentum=bn_momentum, scale=False,
                                               in_channels=c_out) for _ in range(2))
        self.act1, self.act2 = _activation(act), _activation(act)

    def hybrid_forward(self, F, x):
        x = self.act1(self.norm1(self.pool(self.conv1(x))))
        return self.act2(self.norm2(self.conv2(x)))


def _activation(kind):
    return nn.GELU() if kind == 'gelu' else nn.Activation(kind)


class FastNet(nn.HybridBlock):
    """whiten (2x2, 3 -> 24, frozen) -> act -> 3 ConvBlocks -> maxpool 3 -> linear x scale."""

    def __init__(self, num_classes=10, widths=(48, 192, 192), act='gelu', scale=1 / 9,
                 **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.whiten = nn.Conv2D(24, 2, in_channels=3)
        self.act0 = _activation(act)
        self.blocks = nn.HybridSequential()
        for c_in, c_out in zip((24,) + tuple(widths[:-1]), widths):
            self.blocks.add(ConvBlock(c_in, c_out, act))
        self.pool = nn.MaxPool2D(3)
        self.head = nn.Dense(num_classes, use_bias=False, in_units=widths[-1])

    def hybrid_forward(self, F, x):
        x = self.blocks(self.act0(self.whiten(x)))
        return self.head(self.pool(x)) * self.scale

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """Kaiming-normal convolutions (whatever `init`: the recipe's, not the book's
        Xavier), each 3x3 conv an identity on its first input channels (a Dirac
        init: the blocks start close to passing their input through)."""
        super().initialize(mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2),
                           ctx=ctx, verbose=verbose, force_reinit=force_reinit)
        for block in self.blocks:
            for conv in (block.conv1, block.conv2):
                w = conv.weight.data().asnumpy()
                k = min(w.shape[:2])
                w[:k] = 0
                w[onp.arange(k), onp.arange(k), 1, 1] = 1
                conv.weight.set_data(np.array(w))
        self.whiten.bias.set_data(np.zeros(24))


def whitening_filters(images, patch=2, eps=5e-4):
    """The 2x2 patch-whitening filters of `images` (N, C, H, W) float NumPy:
    the eigenvectors of the covariance of all patch x patch patches, each
    divided by sqrt(eigenvalue + eps), largest eigenvalue first, then the same
    filters negated. Returns (2 C p^2, C, p, p) float32."""
    n, c = images.shape[:2]
    patches = onp.lib.stride_tricks.sliding_window_view(images, (patch, patch), axis=(2, 3))
    patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * patch * patch)
    patches = patches.astype(onp.float64)
    cov = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = onp.linalg.eigh(cov)              # ascending
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    w = (eigenvectors.T / onp.sqrt(eigenvalues + eps)[:, None]).reshape(-1, c, patch, patch)
    return onp.concatenate([w, -w]).astype(onp.float32)


def init_whitening(net, images, max_images=5000):
    """Set fastnet's first convolution to the whitening filters of the first
    `max_images` training images (normalized NCHW) and freeze it."""
    net.whiten.weight.set_data(np.array(whitening_filters(onp.asarray(images[:max_images]))))
    net.whiten.weight.grad_req = 'null'


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


def fastnet(num_classes=10, **kwargs):
    """The fast recipe's network (see ``FastNet``)."""
    return FastNet(num_classes, **kwargs)


MODELS = {'resnet18': resnet18, 'fastnet': fastnet}   # ours; GluonCV's come by name


def get_model(name, num_classes=10):
    """Build model `name`: ``resnet18`` (d2l), ``fastnet`` or a GluonCV CIFAR model name."""
    if name in MODELS:
        return MODELS[name](num_classes)
    gluoncv_names = gluoncv_cifar_models()
    if name in gluoncv_names:
        from gluoncv.model_zoo import get_model as gcv_get_model
        return LegacyAdapter(lambda: gcv_get_model(name, classes=num_classes))
    raise UsageError(f"unknown model {name!r}; choose resnet18, fastnet or a GluonCV CIFAR model: "
                     f"{', '.join(gluoncv_names) or '(GluonCV is not installed)'}")


def num_parameters(net):
    """Number of scalar parameters (after initialization)."""
    return sum(int(p.data().size) for p in net.collect_params().values())
