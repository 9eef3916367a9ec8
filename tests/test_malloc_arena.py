"""Importing gluon_aug gives glibc's malloc one arena (``_mxnet.ONE_ARENA``): threads
started afterwards (MXNet's engine workers among them) share it, so the memory of large
freed arrays is kept for reuse, not faulted back in page by page (docs/PERFORMANCE.md).
Counted with glibc's own ``malloc_info``, in fresh processes."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason="glibc's malloc arenas: Linux only")

# four threads alive at once, each allocating, then glibc's report of its arenas
SCRIPT = r"""
import ctypes, sys, tempfile, threading
import numpy
import gluon_aug._mxnet as m
barrier = threading.Barrier(4)
def work():
    barrier.wait()
    numpy.ones(1000).sum()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile('r', suffix='.xml') as report:
    f = libc.fopen(report.name.encode(), b'w')
    libc.malloc_info(0, ctypes.c_void_p(f))
    libc.fclose(ctypes.c_void_p(f))
    print(m.ONE_ARENA, report.read().count('<heap nr='))
"""


def arenas(**env):
    full = {k: v for k, v in os.environ.items() if k != 'MALLOC_ARENA_MAX'}
    full.update(env)
    proc = subprocess.run([sys.executable, '-c', SCRIPT], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    flag, count = proc.stdout.split()
    return flag == 'True', int(count)


def test_importing_gives_every_later_thread_the_one_arena():
    assert arenas() == (True, 1)


@pytest.mark.parametrize('env', [{'GLUON_AUG_ONE_ARENA': '0'}, {'MALLOC_ARENA_MAX': '8'}])
def test_the_switch_or_the_users_own_setting_leaves_the_arenas_alone(env):
    one, count = arenas(**env)
    assert not one and count > 1   # the threads got arenas of their own
