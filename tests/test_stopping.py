"""Ctrl-C and SIGTERM during training wait for the step boundary (gluon_aug.stopping)."""
import os
import signal

import pytest

from gluon_aug import stopping
from gluon_aug.errors import Terminated


@pytest.mark.parametrize('sig, kind', [(signal.SIGINT, KeyboardInterrupt),
                                       (signal.SIGTERM, Terminated)])
def test_a_signal_during_a_step_is_kept_until_the_boundary(sig, kind):
    with stopping.handled():
        stopping.defer(True)
        try:
            os.kill(os.getpid(), sig)      # arrives "inside a step": nothing is raised
        except KeyboardInterrupt:
            pytest.fail('the signal was raised inside the step')
        with pytest.raises(kind):
            stopping.check()               # the boundary raises it
        assert stopping.STATE.pending is None


def test_a_second_signal_stops_at_once_and_outside_a_loop_the_first_does():
    with stopping.handled():
        stopping.defer(True)
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pytest.fail('the first signal was raised inside the step')
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)   # the user insists
        stopping.defer(False)
        stopping.STATE.pending = None
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)  # no loop running
    assert signal.getsignal(signal.SIGTERM) is not stopping._handler   # restored


def _block_forever(ready):
    import threading
    ready.set()
    threading.Event().wait()   # as a pool worker waits for work


def test_a_forked_worker_dies_on_sigterm_at_once():
    """DataLoader workers are forked while the handlers are installed; the parent
    ends them with SIGTERM, which must kill them, not wait for a Python handler."""
    import multiprocessing
    ctx = multiprocessing.get_context('fork')
    with stopping.handled():
        stopping.defer(True)
        ready = ctx.Event()
        child = ctx.Process(target=_block_forever, args=(ready,))
        child.start()
        assert ready.wait(30)
        child.terminate()              # SIGTERM, as Pool.terminate sends
        child.join(10)
        alive = child.is_alive()
        if alive:
            child.kill()
        stopping.defer(False)
    assert not alive and child.exitcode == -signal.SIGTERM
