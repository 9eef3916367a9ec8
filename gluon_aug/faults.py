"""Fault injection for the resume tests: die (SIGKILL) at a named point.

``GLUON_AUG_DIE_AT=point:N`` makes the N-th arrival (1-based) at ``point``
kill this process with SIGKILL, as a power cut or the OOM killer would.
Points: ``batch`` (after a training step), ``eval`` (after the first test
batch of an evaluation), ``checkpoint`` (half-way through writing a
checkpoint file). Unset, ``hit`` costs one dict lookup.
"""
import os
import signal

_counts = {}


def hit(point):
    spec = os.environ.get('GLUON_AUG_DIE_AT')
    if not spec:
        return
    name, _, nth = spec.partition(':')
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
