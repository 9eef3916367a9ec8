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
