"""The checkpoint file: written atomically, read without trusting it.

``save_checkpoint`` writes a NumPy archive with stored (uncompressed) members
in one piece (``files.atomic_write``). ``read_checkpoint`` reads it with
``allow_pickle=False``, so loading never runs code, and bounds what it reads
before reading it: only the member names a checkpoint has (``state``,
``param/...``, ``opt/...``, ``extra/...``), each stored as written, its
``.npy`` header declaring exactly the bytes it holds (a deflated member or a
header claiming 10^12 elements is refused before anything is allocated), and
the ``state`` JSON checked field by field (``check_state``).
"""
import io
import json
import math
import os
import re
import zipfile

import numpy as onp

from ..errors import UsageError
from ..files import atomic_write

FILENAME = 'checkpoint.npz'
VERSION = 2
MEMBER = re.compile(r'(state|param/\d+/\d+|opt/\d+/\d+(/\d+)*|extra/[\w.-]+(/[\w.-]+)*)\.npy')


def save_checkpoint(out, state, arrays):
    """Write `state` (JSON-able dict) and `arrays` (name -> NumPy array) to out/FILENAME."""
    blob = json.dumps(dict(state, version=VERSION)).encode('utf-8')
    buf = io.BytesIO()
    onp.savez(buf, state=onp.frombuffer(blob, dtype=onp.uint8), **arrays)
    path = os.path.join(out, FILENAME)
    atomic_write(path, buf.getvalue(), hint=(
        '; the previous checkpoint is kept: free space, then continue with --resume'
        if os.path.exists(path) else
        '; no checkpoint was written yet: free space or pass another --out, and start again'))


class FormatVersionError(ValueError):
    """A checkpoint written by a gluon_aug with another checkpoint format."""


def check_members(path):
    """ValueError unless every member of the archive is one a checkpoint holds,
    stored as written, with a header that declares exactly its own bytes."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename
            if not MEMBER.fullmatch(name):
                raise ValueError(f"holds {name!r}, which no checkpoint holds")
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ValueError(f"holds {name!r} compressed; checkpoints store their arrays "
                                 "as they are")
            with archive.open(info) as f:
                version = onp.lib.format.read_magic(f)
                shape, _, dtype = onp.lib.format._read_array_header(f, version)
                declared = math.prod(shape) * dtype.itemsize
                if dtype.hasobject or declared != info.file_size - f.tell():
                    raise ValueError(f"holds {name!r} declaring {shape} {dtype}, which its "
                                     f"{info.file_size - f.tell()} bytes do not hold")


def _is_count(value):
    return type(value) is int and value >= 0


def check_state(state):
    """ValueError naming the first field of a checkpoint's state that is not what
    a gluon_aug checkpoint holds (types and ranges; the rest is checked where it
    is used: the configuration against the run's, the arrays against the net)."""
    checks = [('epoch', _is_count), ('batch', _is_count),
              ('info', lambda v: isinstance(v, dict) and isinstance(v.get('config'), dict)
               and _is_count(v.get('workers')) and isinstance(v.get('data'), dict)
               and isinstance(v.get('run_id', ''), str)   # no id: written before 0.3.0
               and isinstance(v.get('given', []), list)
               and all(isinstance(n, str) for n in v.get('given', []))),
              ('sums', lambda v: isinstance(v, list) and all(
                  type(x) in (int, float) and math.isfinite(x) for x in v)),
              ('history', lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v)),
              ('trainer', lambda v: isinstance(v, dict) and isinstance(v.get('states'), list)
               and isinstance(v.get('counts'), dict) and all(
                   _is_count(v.get('scalars', {}).get(k)) for k in ('num_update',
                                                                   'begin_num_update'))),
              ('parts', lambda v: isinstance(v, dict))]
    for key, ok in checks:
        if not ok(state.get(key)):
            raise ValueError(f"has a bad {key!r} field ({str(state.get(key))[:60]!r})")


def read_checkpoint(path):
    """(state, arrays) of the checkpoint file `path`. Raises ``FormatVersionError``
    for another format version, ``ValueError`` saying why for a file that is
    unreadable, corrupt or not a gluon_aug checkpoint."""
    try:
        check_members(path)
        with onp.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
        state = json.loads(arrays.pop('state').tobytes().decode('utf-8'))
        if not isinstance(state, dict) or 'version' not in state:
            raise ValueError('no format version')
    except (OSError, ValueError, KeyError, EOFError, RecursionError,
            zipfile.BadZipFile) as err:
        raise ValueError(f"is corrupt or not a gluon_aug checkpoint ({type(err).__name__}: "
                         f"{err})") from None
    if type(state['version']) is not int:
        raise ValueError(f"is corrupt or not a gluon_aug checkpoint: its format version is "
                         f"{state['version']!r}, not a number")
    if state['version'] != VERSION:
        raise FormatVersionError(f"has format version {state['version']!r}; this gluon_aug "
                                 f"reads format version {VERSION} only")
    try:
        check_state(state)
    except ValueError as err:
        raise ValueError(f"is corrupt or not a gluon_aug checkpoint: it {err}") from None
    return state, arrays


def load_checkpoint(out):
    """(state, arrays) of out/FILENAME; UsageError if it is missing, corrupt or foreign."""
    path = os.path.join(out, FILENAME)
    if not os.path.isfile(path):
        raise UsageError(f"--resume {out!r} holds no checkpoint ({FILENAME}); start the run "
                         "without --resume, or pass the --out folder of a run that saved one")
    try:
        return read_checkpoint(path)
    except FormatVersionError as err:
        raise UsageError(f"checkpoint {path} {err}; resume with the version that wrote it, "
                         "or start again without --resume") from None
    except ValueError as err:
        raise UsageError(f"checkpoint {path} {err}; delete it and start again without "
                         "--resume") from None
