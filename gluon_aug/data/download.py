"""Fetch CIFAR-10 (binary version) the way Gluon does, with a fallback mirror.

Gluon's ``vision.CIFAR10`` downloads ``cifar-10-binary.tar.gz`` from MXNet's
repository (``MXNET_GLUON_REPO`` overrides the base URL) into
``$MXNET_HOME/datasets/cifar10`` and checks each file's SHA-1. We do the
same, fall back to the original archive at the University of Toronto when
MXNet's repository is unreachable, and verify every extracted file against
Gluon's checksums whichever source served it.
"""
import os
import shutil
import tarfile
import tempfile
import urllib.request

from .._mxnet import gluon, mx
from ..errors import UsageError

ARCHIVE = 'cifar-10-binary.tar.gz'
GLUON_ARCHIVE_SHA1 = 'fab780a1e191a7eda0f345501ccd62d20f7ed891'
ORIGINAL_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'
DEFAULT_GLUON_REPO = 'https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/'
# SHA-1 of each file, as in mxnet/gluon/data/vision/datasets.py (CIFAR10).
GLUON_SHA1 = {
    'data_batch_1.bin': 'aadd24acce27caa71bf4b10992e9e7b2d74c2540',
    'data_batch_2.bin': 'c0ba65cce70568cd57b4e03e9ac8d2a5367c1795',
    'data_batch_3.bin': '1dd00a74ab1d17a6e7d73e185b69dbf31242f295',
    'data_batch_4.bin': 'aab85764eb3584312d3c7f65fd2fd016e36a258e',
    'data_batch_5.bin': '26e2849e66a845b7f1e4614ae70f4889ae604628',
    'test_batch.bin': '67eb016db431130d61cd03c7ad570b013799c88c',
}


def default_root():
    """Gluon's own location: ``$MXNET_HOME/datasets/cifar10``."""
    return os.path.join(mx.base.data_dir(), 'datasets', 'cifar10')


def gluon_repo_url(namespace, filename):
    """Where Gluon's datasets live: `MXNET_GLUON_REPO` (default: MXNet's S3 bucket),
    then namespace/filename, as Gluon's own downloads build it."""
    base = os.environ.get('MXNET_GLUON_REPO', DEFAULT_GLUON_REPO)
    return f"{base if base.endswith('/') else base + '/'}{namespace}/{filename}"


def default_sources():
    """(url, archive sha1 or None) pairs, tried in order."""
    return [(gluon_repo_url('gluon/dataset/cifar10', ARCHIVE), GLUON_ARCHIVE_SHA1),
            (ORIGINAL_URL, None)]


def is_complete(root, checksums=GLUON_SHA1):
    """True when every file of `checksums` is in `root` with the right SHA-1."""
    return all(os.path.isfile(os.path.join(root, name)) and
               gluon.utils.check_sha1(os.path.join(root, name), sha1)
               for name, sha1 in checksums.items())


def _fetch(url, dest, timeout):
    # Not gluon.utils.download: it has no timeout (an unreachable host hangs) and
    # retries 5 times; offline, the user needs the one-line answer at once.
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, 'wb') as out:
        shutil.copyfileobj(resp, out)


def _extract(archive, root, checksums):
    """Extract the known files (flattening ``cifar-10-batches-bin/``), verified."""
    with tarfile.open(archive) as tar:
        members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
        missing = [n for n in checksums if n not in members]
        if missing:
            raise ValueError(f"archive lacks {', '.join(missing)}")
        staged = {}
        for name in checksums:
            tmp = os.path.join(root, f'.{name}.part')
            with tar.extractfile(members[name]) as src, open(tmp, 'wb') as dst:
                shutil.copyfileobj(src, dst)
            if not gluon.utils.check_sha1(tmp, checksums[name]):
                os.remove(tmp)
                raise ValueError(f"{name} has the wrong SHA-1")
            staged[name] = tmp
    for name, tmp in staged.items():
        os.replace(tmp, os.path.join(root, name))


def _probe(root):
    """OSError unless a file can be created in `root`."""
    fd, path = tempfile.mkstemp(dir=root)
    os.close(fd)
    os.remove(path)


def ensure_cifar10(root=None, sources=None, checksums=GLUON_SHA1, timeout=30):
    """Make sure `root` holds the verified CIFAR-10 binary files; return `root`.

    Downloads from `sources` (default: MXNet's repository, then the original
    archive) when a file is missing or its SHA-1 differs. Raises UsageError
    with the way out (``--data DIR``) when no source can be reached.
    """
    root = os.path.expanduser(root or default_root())
    if is_complete(root, checksums):
        return root
    try:
        os.makedirs(root, exist_ok=True)
        _probe(root)
    except OSError as err:
        raise UsageError(f"CIFAR-10 is not in {root} and that folder cannot be written "
                         f"({err.strerror or err}); set MXNET_HOME to a folder you can "
                         "write to, or pass --data DIR") from None
    failures = []
    for url, archive_sha1 in (sources or default_sources()):
        fd, tmp = tempfile.mkstemp(suffix='.tar.gz', dir=root)
        os.close(fd)
        try:
            _fetch(url, tmp, timeout)
            if archive_sha1 and not gluon.utils.check_sha1(tmp, archive_sha1):
                raise ValueError("archive has the wrong SHA-1")
            _extract(tmp, root, checksums)
            return root
        except Exception as err:  # unreachable, corrupt or incomplete: try the next one
            failures.append(f"{url}: {err}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise UsageError(
        f"CIFAR-10 is not in {root} and could not be downloaded ({'; '.join(failures)}). "
        "If this machine is offline, fetch cifar-10-binary.tar.gz elsewhere, extract it and "
        "pass --data DIR (a folder with data_batch_*.bin and test_batch.bin)")
