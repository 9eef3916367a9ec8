"""d2l's CIFAR ResNet-18 (sec_resnet, sec_multi_gpu_concise).

``resnet18(num_classes)`` is d2l's "slightly modified ResNet-18": a 3x3,
stride-1 stem without max-pooling, four residual stages of 64/128/256/512
channels (two blocks each), global average pooling and a dense layer.
# departure: ``Residual`` is a HybridBlock here (d2l's MXNet file makes it a
Block), so ``net.hybridize()`` compiles the whole network into one graph;
imperative, as the book runs it, it computes the same.
"""
from .._mxnet import nn


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
