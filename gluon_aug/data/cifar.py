"""CIFAR-10 in the official binary layout: reading, checking, fingerprinting.

Each ``*.bin`` file is a concatenation of 3,073-byte records: one label byte
(0-9), then 1,024 red, 1,024 green and 1,024 blue bytes (32x32 planes, row
major). ``CIFAR10`` reads any folder of such files (``data_batch_*.bin`` for
training, however many; ``test_batch.bin`` for testing) and yields what
Gluon's own ``vision.CIFAR10`` yields: an HWC uint8 image and an int32 label.
"""
import hashlib
import os
import re
import sys

import numpy as onp

from .._mxnet import gluon, mx
from ..errors import UsageError
from .download import default_root, ensure_cifar10

RECORD_BYTES = 3073
CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer',
           'dog', 'frog', 'horse', 'ship', 'truck')


def get_dataloader_workers():  # the book's, used by its load_cifar10 and by our loaders
    """Use 4 processes to read the data except for Windows (d2l, sec_fashion_mnist)."""
    return 0 if sys.platform.startswith('win') else 4


def _unreadable(path, err):
    return UsageError(f"cannot read {path} ({err.strerror or err}); give this user read "
                      "access to the data (chmod), or copy it to a folder you can read")


def _listdir(root):
    try:
        return os.listdir(root)
    except OSError as err:
        raise _unreadable(root, err) from None


def find_cifar_files(root):
    """Return (train files, test file) in `root`, or raise UsageError.

    Accepts the folder itself or one holding the extracted
    ``cifar-10-batches-bin/``. Train files are sorted by their number.
    """
    if not os.path.isdir(root):
        raise UsageError(f"--data {root!r} does not exist or is not a folder; pass the folder "
                         "holding data_batch_*.bin and test_batch.bin")
    nested = os.path.join(root, 'cifar-10-batches-bin')
    if os.path.isdir(nested) and not any(n.endswith('.bin') for n in _listdir(root)):
        root = nested
    names = _listdir(root)
    train = sorted((n for n in names if re.fullmatch(r'data_batch_\d+\.bin', n)),
                   key=lambda n: int(re.findall(r'\d+', n)[0]))
    if not train:
        raise UsageError(f"no CIFAR-10 training files in {root!r}: expected data_batch_1.bin "
                         "(... data_batch_5.bin) and test_batch.bin, the binary version's layout")
    test = os.path.join(root, 'test_batch.bin')
    if not os.path.lexists(test):
        raise UsageError(f"CIFAR-10 test file {test!r} is missing; the folder needs "
                         "test_batch.bin beside data_batch_*.bin")
    files = [os.path.join(root, n) for n in train]
    for path in files + [test]:   # a folder, a FIFO, a device, a dangling link
        if not os.path.isfile(path):
            raise UsageError(f"{path!r} is not a regular file; the CIFAR-10 files must be "
                             "the binary version's files")
    return files, test


def _check_records(path):
    """Return the file's records (a read-only memory map), or raise UsageError
    naming the file when it is not whole records or holds a label outside 0-9."""
    size = os.path.getsize(path)
    if size == 0 or size % RECORD_BYTES:
        raise UsageError(f"{path} is corrupt: {size} bytes is not a whole number of "
                         f"{RECORD_BYTES}-byte CIFAR-10 records; download it again")
    try:
        raw = onp.memmap(path, dtype=onp.uint8, mode='r').reshape(-1, RECORD_BYTES)
    except OSError as err:
        raise _unreadable(path, err) from None
    bad = onp.flatnonzero(raw[:, 0] > 9)
    if bad.size:
        raise UsageError(f"{path} is corrupt: record {bad[0]} has label {raw[bad[0], 0]}, "
                         f"outside CIFAR-10's 10 classes (labels 0-9; {bad.size} bad "
                         "records); download it again")
    return raw


def check_cifar_folder(root):
    """Check a data folder completely (files present, sizes, labels) without
    loading the images; raise UsageError naming the first problem."""
    train, test = find_cifar_files(os.path.expanduser(root))
    for path in train + [test]:
        _check_records(path)


def sha1_of(path, chunk=1 << 20):
    """The SHA-1 of a file, as hex."""
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(root=None):
    """{file name: [size, SHA-1]} of the CIFAR-10 files in `root` (None: Gluon's
    location): a checkpoint records them, so a resumed run sees the same data."""
    train, test = find_cifar_files(os.path.expanduser(root or default_root()))
    return {os.path.basename(p): [os.path.getsize(p), sha1_of(p)] for p in train + [test]}


def read_cifar_bin(path):
    """Read one binary file: (N, 32, 32, 3) uint8 images, (N,) int32 labels."""
    raw = onp.array(_check_records(path))
    images = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return onp.ascontiguousarray(images), raw[:, 0].astype(onp.int32)


class CIFAR10(gluon.data.Dataset):
    """CIFAR-10 from a folder of binary files, as a Gluon ``Dataset``.

    Parameters
    ----------
    root : str or None
        Folder with ``data_batch_*.bin`` and ``test_batch.bin``. ``None``
        uses Gluon's location and downloads there if needed, like the book.
    train : bool
        Training files (True) or ``test_batch.bin`` (False).
    transform : callable or None
        ``transform(image, label) -> sample``, as Gluon's datasets take.

    Each sample is ``(image, label)``: image (32, 32, 3) uint8, label int32.
    """

    def __init__(self, root=None, train=True, transform=None):
        if root is None:
            root = ensure_cifar10()
        train_files, test_file = find_cifar_files(os.path.expanduser(root))
        self.files = train_files if train else [test_file]
        images, labels = zip(*(read_cifar_bin(f) for f in self.files))
        data = onp.concatenate(images)
        self._data = mx.np.array(data, dtype=data.dtype)
        self._label = onp.concatenate(labels)
        self._transform = transform

    def __getitem__(self, idx):
        if self._transform is not None:
            return self._transform(self._data[idx], self._label[idx])
        return self._data[idx], self._label[idx]

    def __len__(self):
        return len(self._label)


def limited(dataset, limit):
    """The first `limit` examples of `dataset` (all of it for None)."""
    if limit is None:
        return dataset
    if limit < 1:
        raise UsageError(f"limit must be at least 1 example, got {limit}")
    return dataset.take(limit)
