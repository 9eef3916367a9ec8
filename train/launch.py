"""Start a parameter-server job on this machine: scheduler, servers, workers.

    python -m train.launch -n 2 -- python -m train.cifar --kvstore dist_sync \\
        --data ../shared/data/cifar10-subset --model cifar_resnet20_v1 -b 128 --out runs/dist

Every process gets MXNet's DMLC_* variables (DMLC_ROLE, DMLC_PS_ROOT_URI=127.0.0.1,
DMLC_PS_ROOT_PORT, DMLC_NUM_SERVER, DMLC_NUM_WORKER); the scheduler and servers
are `python -c "import mxnet"` (MXNet runs those roles on import), the workers
run COMMAND. Their output is streamed line by line with a prefix: [scheduler],
[server I], and [worker R] where R is the worker's kvstore rank once
gluon_aug announces it ([worker slot I] before). If any process fails, the
others are ended and the launcher exits with its status; it exits 0 when every
worker succeeded. Across several machines, start the same roles with the same
variables yourself (docs/DISTRIBUTED.md).
"""
import argparse
import sys

from train import cli

PROG = 'python -m train.launch'
cli.library(PROG)   # the threads before MXNet loads; without MXNet one line, exit 2
from gluon_aug.run.launcher import launch  # noqa: E402


def get_args_parser():
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('-n', '--num-workers', type=int, required=True, metavar='WORKERS',
                   help='worker processes (DMLC_NUM_WORKER)')
    p.add_argument('-s', '--num-servers', type=int, default=1, metavar='SERVERS',
                   help='server processes (DMLC_NUM_SERVER, default: 1)')
    p.add_argument('--port', type=int, default=None, metavar='P',
                   help="the scheduler's port (DMLC_PS_ROOT_PORT, default: a free one)")
    p.add_argument('--threads-per-worker', type=int, default=None, metavar='T',
                   help='OMP_NUM_THREADS of each worker (default: usable cores / workers, '
                        'at least 1)')
    p.add_argument('--grace', type=float, default=30.0, metavar='SEC',
                   help='seconds the scheduler and servers get to exit after the workers '
                        'finished, and processes get to exit after SIGTERM (default: 30)')
    p.add_argument('command', nargs=argparse.REMAINDER,
                   help='the worker command, after --')
    return p


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return cli.call(PROG, launch, args.command, args.num_workers, args.num_servers, args.port,
                    args.threads_per_worker, args.grace, prog=PROG)


if __name__ == '__main__':
    sys.exit(main())
