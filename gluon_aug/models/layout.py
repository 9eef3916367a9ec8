"""Give a net's weights fresh arrays in MXNet's plain layout after an inference forward.

In inference mode, MXNet 1.9.1's oneDNN convolution reorders each weight array
it reads into oneDNN's blocked layout, in place and asynchronously
(``NDArray::MKLDNNDataReorderAsync``). Training on from such arrays is not
repeatable: with Nesterov momentum and weight decay (the fast recipes), two
runs of one seed drift apart in the last bits from the first step after an
evaluation, and a resumed run is not bitwise the run it continues. Measured: a
fastnet trained 30 steps with an inference forward every 10 gave 5 different
results in 5 processes; with the weights copied into fresh arrays after each
inference forward, 5 identical ones, equal to training with no inference at all.
The copy is exact, costs one copy of the weights, and changes no value.
"""


def fresh_weights(net):
    """Replace every initialized parameter's arrays of `net` by exact copies on the
    same devices, in the plain layout, with fresh gradient buffers (the training
    step writes them before it reads them). Parameter objects stay the same: the
    Trainer and a hybridized graph read the arrays through them at every step."""
    for p in net.collect_params().values():
        if p._data is None:   # deferred, not yet shaped: nothing to copy
            continue
        p._data = [d.copyto(d.ctx) for d in p._data]   # MXNet's Parameter keeps them here
        p._init_grad()
