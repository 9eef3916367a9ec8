"""Writing files atomically: a reader (or a crash) never meets half a file.

``atomic_path(path)`` hands out a temporary name beside `path`; on success the
file is fsynced and renamed over `path`, and the folder fsynced so the rename
reaches the disk; on failure the temporary file is removed and `path` keeps
what it held. ``atomic_write`` (bytes) and ``write_json`` are built on it.
A failed write (a full disk, a read-only folder) raises ``RunError`` naming
the file and the reason.
"""
import contextlib
import errno
import json
import os

from .errors import RunError


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


def atomic_write(path, data, hint=''):
    """Replace `path` with the bytes `data`: all of it or (after any crash) nothing."""
    with atomic_path(path, hint) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def write_json(path, obj):
    """Write `obj` as indented JSON, atomically."""
    atomic_write(path, (json.dumps(obj, indent=2) + '\n').encode())
