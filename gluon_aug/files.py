"""Writing files atomically: a reader (or a crash) never meets half a file.

``atomic_path(path)`` hands out a temporary name beside `path`; on success the
file is fsynced and renamed over `path`, and the folder fsynced so the rename
reaches the disk; on failure the temporary file is removed and `path` keeps
what it held. ``atomic_write`` (bytes) and ``write_json`` are built on it.
A failed write (a full disk, a read-only folder) raises ``RunError`` naming
the file and the reason; ``mxnet_path`` and ``mxnet_writes`` do the same for
files MXNet writes itself, and ``check_mxnet_path`` refuses a path MXNet cannot
take (not UTF-8) before any work.
"""
import contextlib
import errno
import json
import os

from .errors import reason, RunError, UsageError


def check_mxnet_path(path, what):
    """UsageError unless MXNet can take `path`: it hands paths to its C++ side as
    UTF-8, so a name that is not valid UTF-8 (Python keeps such bytes as
    surrogates) can be neither read nor written through it. `what` names it."""
    try:
        os.path.abspath(path).encode('utf-8')
    except UnicodeEncodeError:
        raise UsageError(f"{what} {path!r} is not valid UTF-8 (in its name or the current "
                         "folder's), and MXNet reads and writes UTF-8 paths only; pass a "
                         "path whose name is UTF-8") from None


def fsync_folder(folder):
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_failure(path, err, hint=''):
    """The RunError for a write of `path` that failed with OSError `err`."""
    reason = 'the disk is full' if err.errno == errno.ENOSPC else err.strerror or str(err)
    return RunError(f"cannot write {path} ({reason}){hint}")


def temp_name(path):
    """Where `path` is written before it is renamed: a hidden file beside it with the
    same extension (savefig picks the format from it), overwritten by the next try."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f'.tmp.{name}')


@contextlib.contextmanager
def atomic_path(path, hint=''):
    """Yield a temporary file name; when the block ends, the file written there
    replaces `path` durably. `hint` ends the error message (what to do next)."""
    tmp = temp_name(path)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_folder(os.path.dirname(os.path.abspath(path)))
    except OSError as err:
        raise write_failure(path, err, hint) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# MXNet writes through C stdio and checks fwrite, not fclose: a full disk may cut
# the last buffer (BUFSIZ, 8 KiB) silently. With at least this much space left
# after the write, no flush can have failed for want of room.
ROOM_AFTER_MXNET_WRITE = 64 << 10


def _free_bytes(folder):
    st = os.statvfs(folder)   # root may write into the blocks reserved for it
    return (st.f_bfree if os.geteuid() == 0 else st.f_bavail) * st.f_frsize


def _mxnet_write_error(err):
    """Whether `err` is MXNet's failure to open or write a file (dmlc's file stream)."""
    return type(err).__name__ == 'MXNetError' and any(
        s in str(err) for s in ('FileStream', 'LocalFileSystem', 'fwrite', 'fopen'))


@contextlib.contextmanager
def mxnet_writes(folder):
    """Around MXNet writing files into `folder` itself (``save_parameters``,
    ``export``): its failed write (an MXNetError from dmlc's file stream), or a
    disk left too full to trust its last flush, raises the OSError it stands for."""
    try:
        yield
    except Exception as err:
        if not _mxnet_write_error(err):
            raise
        if _free_bytes(folder) < ROOM_AFTER_MXNET_WRITE:
            raise OSError(errno.ENOSPC, 'No space left on device') from None
        raise OSError(errno.EIO, f'MXNet could not write it: {reason(err, 120)}') from None
    if _free_bytes(folder) < ROOM_AFTER_MXNET_WRITE:
        raise OSError(errno.ENOSPC, 'No space left on device')


@contextlib.contextmanager
def mxnet_path(path, hint=''):
    """``atomic_path`` for a file MXNet writes itself (see ``mxnet_writes``)."""
    with atomic_path(path, hint) as tmp, mxnet_writes(os.path.dirname(os.path.abspath(path))):
        yield tmp


def atomic_write(path, data, hint=''):
    """Replace `path` with the bytes `data`: all of it or (after any crash) nothing."""
    with atomic_path(path, hint) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def write_json(path, obj, hint=''):
    """Write `obj` as indented JSON, atomically."""
    atomic_write(path, (json.dumps(obj, indent=2) + '\n').encode(), hint)
