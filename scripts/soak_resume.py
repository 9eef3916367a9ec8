"""Soak the resume path: kill seeded runs with SIGKILL at random moments until they finish.

    python scripts/soak_resume.py                        # 20 cycles per mode, ~1 hour on 2 cores
    python scripts/soak_resume.py --cycles 3 --modes default

For each mode (the default loader with 2 worker processes, ``-j 0``,
``--thread-pool``, split-batch on ``cpu:2``, and a 2-worker ``dist_sync`` job
started with ``train.launch``) it first runs one uninterrupted seeded run on
tiny generated data (the reference). Then, per cycle, it starts the same run,
kills it with SIGKILL at a moment drawn uniformly from the reference's wall
time, resumes it with ``--resume``, kills again, ... until a run finishes, and
compares the final ``model.params`` and every non-timing metric with the
reference, bitwise. The dist mode kills the whole job or, every other time,
one worker (the launcher then ends the others).

Each training process runs through this script's ``--child`` mode, which
records the phase it is in (start-up, batch, evaluation, checkpoint write,
finishing) in a small file, so the report can say where the kills landed.
Prints a table; exits 1 if any cycle ended differently from the reference.
"""
import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import benchlib
from train import cli

PROG = 'scripts/soak_resume.py'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = {
    'default': ['-j', '2'],
    'j0': ['-j', '0'],
    'thread-pool': ['-j', '2', '--thread-pool'],
    'cpu2': ['-j', '0', '--devices', 'cpu:2'],
    'dist': ['-j', '0', '--kvstore', 'dist_sync'],
}
RUN = ['--model', 'cifar_resnet20_v1', '--epochs', '3', '-b', '16', '--seed', '7',
       '--no-progress', '--checkpoint-every', '1']
PHASES = ('startup', 'batch', 'eval', 'checkpoint', 'finishing')
TIMING = {'examples_per_sec', 'epoch_seconds', 'wall_seconds', 'load_average', 'phase_seconds',
          'examples_stepped'}


# -- the child: train.cifar with phase markers ------------------------------------------

def child(phase_file, argv):
    """Run train.cifar's main, writing the current phase into `phase_file`."""
    cli.configure_threads()
    fd = os.open(f'{phase_file}.{os.getpid()}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

    def mark(phase):
        os.pwrite(fd, phase.ljust(12).encode(), 0)
    mark('startup')
    from gluon_aug.run import checkpoint_file, loop
    from train import cifar

    def marked(fn, phase, after):
        def wrapped(*args, **kwargs):
            mark(phase)
            try:
                return fn(*args, **kwargs)
            finally:
                mark(after)
        return wrapped
    loop.train_batch_ch13 = marked(loop.train_batch_ch13, 'batch', 'batch')
    loop.evaluate_accuracy_gpus = marked(loop.evaluate_accuracy_gpus, 'eval', 'finishing')
    checkpoint_file.atomic_write = marked(checkpoint_file.atomic_write, 'checkpoint', 'batch')
    return cifar.main(argv)


# -- the parent ---------------------------------------------------------------------------

def kill(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def command(mode, data, out, phase_file, resume):
    target = ['--resume', out] if resume else ['--out', out]
    worker = [sys.executable, os.path.abspath(__file__), '--child', phase_file, '--',
              '--data', data, *RUN, *MODES[mode], *target]
    if mode == 'dist':
        return [sys.executable, '-m', 'train.launch', '-n', '2', '--grace', '5', '--', *worker]
    return worker


def outcome(out):
    """The final parameters' digest and every metric that is not a timing."""
    with open(os.path.join(out, 'metrics.json')) as f:
        metrics = json.load(f)
    with open(os.path.join(out, 'model.params'), 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    epochs = [{k: v for k, v in e.items() if k not in TIMING} for e in metrics['epochs']]
    final = {k: v for k, v in metrics['final'].items() if k not in TIMING}
    return digest, epochs, final


def current_phase(phase_file):
    """The phase of the newest process that wrote one (rank order does not matter:
    the dist workers move in step)."""
    folder, stem = os.path.split(phase_file)
    phases = []
    for name in os.listdir(folder):
        if name.startswith(os.path.basename(stem) + '.'):
            path = os.path.join(folder, name)
            with open(path) as f:
                phases.append((os.path.getmtime(path), f.read().strip()))
    return max(phases)[1] if phases else 'startup'


def start(cmd, log):
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def one_run(mode, data, out, phase_file, log, kill_within, rng, kills, cycle):
    """Start, kill at random moments, resume, until a run finishes; count where kills
    land. A first attempt that finishes before its kill starts the cycle over."""
    from conftest import descendants   # the tests' process walker (main puts tests/ on the path)
    resume, attempts, killed = False, 0, False
    while True:
        attempts += 1
        if attempts > 50:
            raise RuntimeError(f'{mode}: no run finished after 50 attempts')
        for name in os.listdir(os.path.dirname(phase_file)):
            if name.startswith(os.path.basename(phase_file) + '.'):
                os.remove(os.path.join(os.path.dirname(phase_file), name))
        proc = start(command(mode, data, out, phase_file, resume), log)
        # the first kill within the first 90 % of a run's time, so it lands mid-run
        deadline = time.monotonic() + rng.uniform(0, kill_within * (1 if resume else 0.9))
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            phase = current_phase(phase_file)
            if mode == 'dist' and (cycle + attempts) % 2:   # one worker: the job ends itself
                workers = [p for p in descendants(proc.pid) if _is_worker(p)]
                kill(workers[-1:] or [proc.pid] + descendants(proc.pid))
                phase += ' (one worker)'
            else:
                kill([proc.pid] + descendants(proc.pid))
            kills[phase] = kills.get(phase, 0) + 1
            killed = True
            proc.wait(timeout=120)
            kill(descendants(proc.pid))
            resume = os.path.exists(os.path.join(out, 'checkpoint.npz'))
            continue
        if proc.returncode != 0:
            raise RuntimeError(f'{mode}: a run ended with status {proc.returncode}; '
                               f'see {log.name}')
        if killed:
            return
        import shutil   # finished before its first kill: no test of resuming, again
        shutil.rmtree(out, ignore_errors=True)


def _is_worker(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return b'--child' in f.read()
    except OSError:
        return False


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--cycles', type=benchlib.positive_int, default=20,
                   help='runs brought to the end per mode')
    p.add_argument('--modes', nargs='+', default=list(MODES), choices=list(MODES))
    p.add_argument('--work', default=None, metavar='DIR',
                   help='where the runs go (default: a temporary folder, removed)')
    p.add_argument('--seed', type=int, default=0, help='seed of the kill moments')
    p.add_argument('--child', metavar='PHASE_FILE', help=argparse.SUPPRESS)
    p.add_argument('rest', nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def main(argv=None):
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.rest[1:] if args.rest[:1] == ['--'] else args.rest)
    cli.configure_threads()
    work = args.work or tempfile.mkdtemp(prefix='soak-')
    os.makedirs(work, exist_ok=True)
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    from conftest import make_cifar_folder   # the tests' tiny data generator
    data = os.path.join(work, 'data')
    make_cifar_folder(data, n_train=(96,), n_test=32)
    rng, rows, failures = random.Random(args.seed), [], 0
    for mode in args.modes:
        base = os.path.join(work, mode)
        os.makedirs(base, exist_ok=True)
        phase_file = os.path.join(base, 'phase')
        with open(os.path.join(base, 'log.txt'), 'w') as log:
            began = time.monotonic()
            ref_proc = start(command(mode, data, os.path.join(base, 'ref'), phase_file, False),
                             log)
            if ref_proc.wait(timeout=600) != 0:
                return cli.fail(PROG, f'{mode}: the reference run failed; see {log.name}', 1)
            wall = time.monotonic() - began
            reference = outcome(os.path.join(base, 'ref'))
            kills, same = {}, 0
            for cycle in range(args.cycles):
                out = os.path.join(base, f'cycle{cycle}')
                one_run(mode, data, out, phase_file, log, wall, rng, kills, cycle)
                same += outcome(out) == reference
                print(f'{mode} cycle {cycle + 1}/{args.cycles}: kills so far {kills}, '
                      f'identical {same}/{cycle + 1}', flush=True)
        failures += args.cycles - same
        rows.append((mode, wall, kills, same))
    print('\n| mode | reference wall (s) | kills by phase | bitwise identical |')
    print('|---|---|---|---|')
    for mode, wall, kills, same in rows:
        landed = ', '.join(f'{k} {v}' for k, v in sorted(kills.items())) or 'none'
        print(f'| {mode} | {wall:.1f} | {landed} | {same}/{args.cycles} |')
    if not args.work:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
