"""Ctrl-C and SIGTERM that stop a run between two steps, never inside one.

Python raises KeyboardInterrupt wherever the program stands, also inside
MXNet's optimizer callback, where ctypes swallows it and a half-updated step
would go on. ``handled()`` (the entry points use it) installs one handler for
SIGINT and SIGTERM: while a training loop defers (``defer``), the first
signal is kept and ``check()`` raises it at the next step boundary; a second
signal, or one outside a loop, raises at once. SIGTERM raises
``errors.Terminated``, a KeyboardInterrupt, so both end the same way.
"""
import contextlib
import os
import signal
import threading

from .errors import Terminated


class _State:
    deferring = False   # a training loop is between its start and its end
    pending = None      # the exception type of a signal kept for the next boundary


STATE = _State()


def _handler(signum, frame):
    stop = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    if STATE.deferring and STATE.pending is None:
        STATE.pending = stop
        return
    raise stop()


def _in_child():
    """A forked child (a DataLoader worker) gets the default handlers back: its
    parent ends it with SIGTERM, which must not wait for Python code to run."""
    if signal.getsignal(signal.SIGTERM) is _handler:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is _handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    STATE.deferring, STATE.pending = False, None


os.register_at_fork(after_in_child=_in_child)


@contextlib.contextmanager
def handled():
    """Within the block, SIGINT and SIGTERM go through ``_handler`` (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        STATE.deferring, STATE.pending = False, None


def defer(on):
    """Keep signals for the next ``check()`` (on) or raise them at once (off)."""
    STATE.deferring = on


def check():
    """Raise the signal kept since the last boundary, if any."""
    if STATE.pending is not None:
        stop, STATE.pending, STATE.deferring = STATE.pending, None, False
        raise stop()
