"""`train.cifar`'s examples/sec against the book's PyTorch path, on this machine.

    python scripts/bench_pytorch.py --torch-python /path/to/venv/bin/python

The book reports examples/sec of the training step only (its timer runs
around ``train_batch_ch13``). This script measures that figure for both
implementations of the section on the same data, model, batch and budget,
alternating them `--repeats` times:

- MXNet: ``python -m train.cifar --aug flip`` (d2l ResNet-18, Adam, batch
  256, hybridized) on the first ``--batches`` x 256 training images, one epoch;
  its metrics.json holds the book's figure.
- PyTorch: the book's PyTorch code for the section (d2l's ``resnet18(10, 3)``
  with Xavier init, Adam lr 0.001, ``CrossEntropyLoss(reduction='none')``, its
  ``train_batch_ch13``), run by a Python that has torch (not a dependency of
  this project: ``pip install torch`` into another venv). torchvision's
  RandomHorizontalFlip and ToTensor are replaced by the same operations in NumPy
  (torchvision's CPU wheel is not installable here); they run in 2 DataLoader
  workers, as in the book, and outside the timed step.

Writes its section of docs/BENCHMARKS.md with the medians and their ratio.
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUBSET = os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'cifar10-subset')


def read_cifar_images(folder, limit, test=False):
    """First `limit` training (or test) images (N, 32, 32, 3) uint8 and labels, from the
    binary layout."""
    import numpy
    images, labels = [], []
    names = ['test_batch.bin'] if test else [f'data_batch_{k}.bin' for k in range(1, 6)]
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        raw = numpy.fromfile(path, dtype=numpy.uint8).reshape(-1, 3073)
        labels.append(raw[:, 0].astype('int64'))
        images.append(raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return numpy.concatenate(images)[:limit], numpy.concatenate(labels)[:limit]


def torch_child(data, batches, batch_size, workers, epochs=1, test=False, seed=None):
    """The book's PyTorch training loop (`epochs`, on the first `batches` batches;
    all of them for 0); prints JSON with its figure. With `test`, also the book's
    evaluation after each epoch, one JSON line per epoch (train_ch13's figures)."""
    import numpy
    import torch
    if seed is not None:
        torch.manual_seed(seed)
        numpy.random.seed(seed)
    from torch import nn
    from torch.nn import functional as F

    class Residual(nn.Module):  # d2l's Residual (PyTorch)
        def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, num_channels, 3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(num_channels, num_channels, 3, padding=1)
            self.conv3 = (nn.Conv2d(in_channels, num_channels, 1, stride=strides)
                          if use_1x1conv else None)
            self.bn1, self.bn2 = nn.BatchNorm2d(num_channels), nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    def resnet18(num_classes, in_channels=1):  # d2l.resnet18 (PyTorch)
        def resnet_block(in_channels, out_channels, num_residuals, first_block=False):
            return nn.Sequential(*[
                Residual(in_channels, out_channels, use_1x1conv=True, strides=2)
                if i == 0 and not first_block else Residual(out_channels, out_channels)
                for i in range(num_residuals)])
        net = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1),
                            nn.BatchNorm2d(64), nn.ReLU())
        net.add_module('resnet_block1', resnet_block(64, 64, 2, first_block=True))
        net.add_module('resnet_block2', resnet_block(64, 128, 2))
        net.add_module('resnet_block3', resnet_block(128, 256, 2))
        net.add_module('resnet_block4', resnet_block(256, 512, 2))
        net.add_module('global_avg_pool', nn.AdaptiveAvgPool2d((1, 1)))
        net.add_module('fc', nn.Sequential(nn.Flatten(), nn.Linear(512, num_classes)))
        return net

    images, labels = read_cifar_images(data, batches * batch_size or None)

    class FlipToTensor(torch.utils.data.Dataset):  # RandomHorizontalFlip + ToTensor
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            img = images[i]
            if numpy.random.rand() < 0.5:
                img = img[:, ::-1]
            x = torch.from_numpy(numpy.ascontiguousarray(img)).permute(2, 0, 1)
            return x.float().div(255), int(labels[i])

    loader = torch.utils.data.DataLoader(FlipToTensor(), batch_size=batch_size, shuffle=True,
                                         num_workers=workers)
    net = resnet18(10, 3)

    def init_weights(m):
        if type(m) in [nn.Linear, nn.Conv2d]:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.Adam(net.parameters(), lr=0.001)

    def train_batch_ch13(X, y):  # the book's, on the CPU
        net.train()
        trainer.zero_grad()
        pred = net(X)
        l = loss(pred, y)
        l.sum().backward()
        trainer.step()
        return l.sum(), (pred.argmax(axis=1) == y).sum()
    def evaluate_accuracy_gpu():  # the book's, on the CPU
        net.eval()
        test_images, test_labels = read_cifar_images(data, None, test=True)
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_images), batch_size):
                X = torch.from_numpy(test_images[i:i + batch_size]).permute(0, 3, 1, 2)
                y = torch.from_numpy(test_labels[i:i + batch_size])
                correct += int((net(X.float().div(255)).argmax(axis=1) == y).sum())
        return correct / len(test_images)
    seconds, n, began = 0.0, 0, time.perf_counter()
    for epoch in range(epochs):
        loss_sum, acc_sum, seen = 0.0, 0.0, 0
        for X, y in loader:
            start = time.perf_counter()
            l, acc = train_batch_ch13(X, y)
            seconds += time.perf_counter() - start
            n += y.numel()
            loss_sum, acc_sum = loss_sum + float(l.detach()), acc_sum + float(acc)
            seen += y.numel()
        if test:
            print(json.dumps({'epoch': epoch + 1, 'train_loss': loss_sum / seen,
                              'train_acc': acc_sum / seen, 'test_acc': evaluate_accuracy_gpu(),
                              'wall_seconds': time.perf_counter() - began}), flush=True)
    print(json.dumps({'examples_per_sec': n / seconds, 'threads': torch.get_num_threads(),
                      'torch': torch.__version__, 'wall_seconds': time.perf_counter() - began}))


def get_args_parser():
    import argparse
    import benchlib
    p = benchlib.ArgumentParser(prog='scripts/bench_pytorch.py',
                                description=__doc__.split('\n\n')[0])
    p.add_argument('--torch-python', required=True, metavar='PYTHON',
                   help='a Python interpreter that can import torch')
    p.add_argument('--data', type=benchlib.cifar_folder, default=SUBSET)
    p.add_argument('--batches', type=benchlib.count, default=10,
                   help='training batches per run')   # 0 (all of them): the child's only
    p.add_argument('-b', '--batch-size', type=benchlib.positive_int, default=256)
    p.add_argument('-j', '--num-workers', type=benchlib.count, default=2)
    p.add_argument('--repeats', type=benchlib.positive_int, default=2)
    p.add_argument('--no-write', action='store_true')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--epochs', type=benchlib.positive_int, default=1, help=argparse.SUPPRESS)
    p.add_argument('--test', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--seed', type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv=None):
    import benchlib   # no MXNet: the torch child runs this too
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        torch_child(args.data, args.batches, args.batch_size, args.num_workers, args.epochs,
                    args.test, args.seed)
        return 0
    p.check('--batches', args.batches, benchlib.positive_int)
    p.check('--torch-python', args.torch_python, benchlib.torch_python)   # before the MXNet runs
    machine = benchlib.machine()   # before the runs: it records the load average
    out = os.path.join(ROOT, 'runs', 'bench-pytorch')
    mxnet, torch, info = [], [], {}
    for _ in range(args.repeats):
        cmd = [sys.executable, '-m', 'train.cifar', '--aug', 'flip', '--model', 'resnet18',
               '--epochs', '1', '--batch-size', str(args.batch_size), '--data', args.data,
               '--limit-train', str(args.batches * args.batch_size), '--limit-test', '256',
               '--devices', 'cpu', '--num-workers', str(args.num_workers), '--seed', '0',
               '--out', out, '--overwrite', '--no-progress']
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        mxnet.append(benchlib.read_json(os.path.join(out, 'metrics.json'))['final']
                     ['examples_per_sec'])
        child = subprocess.run([args.torch_python, os.path.abspath(__file__), '--child',
                                '--torch-python', args.torch_python, '--data', args.data,
                                '--batches', str(args.batches), '-b', str(args.batch_size),
                                '-j', str(args.num_workers)],
                               check=True, capture_output=True, text=True)
        info = json.loads(child.stdout.strip().splitlines()[-1])
        torch.append(info['examples_per_sec'])
        print(f'mxnet {mxnet[-1]:.1f}  pytorch {torch[-1]:.1f} examples/sec', flush=True)
    m, t = statistics.median(mxnet), statistics.median(torch)
    md = '\n'.join([
        "## train.cifar against the book's PyTorch path", '',
        f"Command: `python scripts/bench_pytorch.py {benchlib.shown_args(argv)}`. "
        f'd2l ResNet-18, Adam lr 0.001, batch {args.batch_size}, flip, {args.batches} batches of '
        f'the subset, {args.num_workers} loader workers, one CPU; the book\'s figure '
        f'(examples/sec of the training step only), medians over {args.repeats} alternating '
        f"runs. Machine: {machine}; PyTorch {info.get('torch')} with "
        f"{info.get('threads')} threads.", '',
        '| implementation | examples/sec |', '|---|---|',
        f"| MXNet, `python -m train.cifar --aug flip` (hybridized) | {m:.1f} |",
        f"| PyTorch, the book's code | {t:.1f} |",
        f'| ratio | {m / t:.2f}x |'])
    return benchlib.report('bench_pytorch', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
