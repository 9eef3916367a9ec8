"""fastnet: the fast recipe's network, in the spirit of airbench94 (Keller Jordan, 2024).

A frozen 2x2 patch-whitening convolution initialized from the data
(``init_whitening``), then three blocks of conv-pool-BatchNorm-GELU-conv-
BatchNorm-GELU and a scaled linear head: about 0.07 GMAC per image at widths
(48, 192, 192), against ResNet-18's 0.56. ``fastnet-wide`` has airbench94's widths
(64, 256, 256), about 0.12 GMAC.
"""
import numpy as onp

from .._mxnet import mx, nn, np


class ConvBlock(nn.HybridBlock):
    """conv3x3 -> maxpool 2 -> BN -> act -> conv3x3 -> BN -> act (fastnet's stage).

    `norm`: the BatchNorm class (one holding its activation goes with act=None)."""

    def __init__(self, c_in, c_out, act='gelu', bn_momentum=0.6, norm=nn.BatchNorm, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = nn.Conv2D(c_out, 3, padding=1, use_bias=False, in_channels=c_in)
        self.conv2 = nn.Conv2D(c_out, 3, padding=1, use_bias=False, in_channels=c_out)
        self.pool = nn.MaxPool2D(2)
        # no scale (gamma fixed at 1), as airbench; MXNet's momentum keeps `m` of the
        # running statistics per step
        self.norm1, self.norm2 = (norm(momentum=bn_momentum, scale=False, in_channels=c_out)
                                  for _ in range(2))
        self.act1, self.act2 = _activation(act), _activation(act)

    def hybrid_forward(self, F, x):
        x = self.act1(self.norm1(self.pool(self.conv1(x))))
        return self.act2(self.norm2(self.conv2(x)))


def _activation(kind):
    """'gelu', an ``nn.Activation`` kind, or None: none (the norm before it may hold one)."""
    if kind is None:
        return _Identity()
    return nn.GELU() if kind == 'gelu' else nn.Activation(kind)


class _Identity(nn.HybridBlock):
    def hybrid_forward(self, F, x):
        return x


class FastNet(nn.HybridBlock):
    """whiten (2x2, 3 -> 24, frozen) -> act -> 3 ConvBlocks -> maxpool 3 -> linear x scale.

    `block`: the stages' class, called as ``block(c_in, c_out, act)`` (``ConvBlock``)."""

    def __init__(self, num_classes=10, widths=(48, 192, 192), act='gelu', scale=1 / 9,
                 block=None, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.width = scale, widths[-1]
        self.init_kind = 'kaiming'   # or 'fan-in': see ``initialize``
        self.head_kind = 'airbench94'   # or 'muon': see ``initialize``
        self.whiten = nn.Conv2D(24, 2, in_channels=3)
        self.act0 = _activation(act)
        self.blocks = nn.HybridSequential()
        for c_in, c_out in zip((24,) + tuple(widths[:-1]), widths):
            self.blocks.add((block or ConvBlock)(c_in, c_out, act))
        self.pool = nn.MaxPool2D(3)
        self.head = nn.Dense(num_classes, use_bias=False, in_units=widths[-1])

    def hybrid_forward(self, F, x):
        x = self.blocks(self.act0(self.whiten(x)))
        return self.head(self.pool(x)) * self.scale

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """Weights drawn by `init_kind` (whatever `init`: the recipe's, not the book's
        Xavier): 'kaiming', normal with std sqrt(2 / fan_in) (the fast recipe's), or
        'fan-in', uniform within +-1/sqrt(fan_in) (PyTorch's default for its
        convolutions and linear layers, which airbench94 was tuned with: 2.4x
        smaller); then each 3x3 conv an identity on its first input channels (a
        Dirac init: the blocks start close to passing their input through).
        `head_kind` 'muon' (airbench94_muon's head): the head's weights scaled to a
        standard deviation of 1 and its output by 1 / width instead of `scale`."""
        kind = {'kaiming': ('gaussian', 2), 'fan-in': ('uniform', 1)}[self.init_kind]
        super().initialize(mx.init.Xavier(rnd_type=kind[0], factor_type='in',
                                          magnitude=kind[1]),
                           ctx=ctx, verbose=verbose, force_reinit=force_reinit)
        for block in self.blocks:
            for conv in (block.conv1, block.conv2):
                w = conv.weight.data().asnumpy()
                k = min(w.shape[:2])
                w[:k] = 0
                w[onp.arange(k), onp.arange(k), 1, 1] = 1
                conv.weight.set_data(np.array(w))
        self.whiten.bias.set_data(np.zeros(24))
        if self.head_kind == 'muon':
            w = self.head.weight.data().asnumpy()
            self.head.weight.set_data(np.array(w / w.std()))
            self.scale = 1 / self.width   # read when the net is traced: set before hybridize


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


def fastnet(num_classes=10, **kwargs):
    """The fast recipe's network (see ``FastNet``)."""
    return FastNet(num_classes, **kwargs)


def fastnet_wide(num_classes=10, **kwargs):
    """fastnet at airbench94's widths (64, 256, 256): the fast94 recipe's network."""
    return FastNet(num_classes, widths=(64, 256, 256), **kwargs)


FASTNETS = {'fastnet': fastnet, 'fastnet-wide': fastnet_wide}   # by model name
