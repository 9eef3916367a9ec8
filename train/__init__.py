"""Command-line entry points of gluon_aug (``python -m train.cifar``).

Importing this package, which Python does before running any of its modules,
sets ``OMP_NUM_THREADS`` to the cores this process may use when the user has
not set it. It must happen before ``import mxnet``: MXNet otherwise runs one
OpenMP thread on small machines, which halves training speed on two cores.
DataLoader worker processes still run one thread each (MXNet's fork handler
sets ``MXNET_MP_WORKER_NTHREADS``, default 1, in every child).
"""
import os


def configure_threads(environ=os.environ):
    """Set OMP_NUM_THREADS to the usable cores unless already set; return it."""
    if not environ.get('OMP_NUM_THREADS'):
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        environ['OMP_NUM_THREADS'] = str(cores)
    return environ['OMP_NUM_THREADS']


configure_threads()
