"""Data parallel on MXNet's dist_sync kvstore, on loopback: exactness, train.launch, errors.

Every test that starts processes picks free ports at run time, bounds every
wait with a timeout and ends every process group it started in a `finally`.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as onp
import pytest

from conftest import (cifar_folder_for_module, ROOT, assert_one_line_error, descendants,
                      run_module)


# -- helpers -----------------------------------------------------------------------------

def free_port():
    from gluon_aug.run.launcher import free_port as pick
    return pick()


def dmlc_env(role, port, workers, servers=1, **extra):
    env = dict(os.environ, DMLC_ROLE=role, DMLC_PS_ROOT_URI='127.0.0.1',
               DMLC_PS_ROOT_PORT=str(port), DMLC_NUM_WORKER=str(workers),
               DMLC_NUM_SERVER=str(servers), DMLC_NODE_HOST='127.0.0.1',
               OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    env.update(extra)
    return env


class Procs:
    """Processes started by a test, each in its own group; `end()` kills them all."""

    def __init__(self):
        self.procs = []

    def start(self, argv, env, **kwargs):
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True,
                                **kwargs)
        self.procs.append(proc)
        return proc

    def end(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            proc.communicate(timeout=10)


@pytest.fixture
def procs():
    started = Procs()
    try:
        yield started
    finally:
        started.end()


PS_ROLE = [sys.executable, '-c', 'import mxnet']

# A worker: a tiny two-layer net, SGD with momentum and weight decay, 3 steps of
# 4 examples (its half of each global batch of 8), through the library's kvstore
# helpers and the book's train_batch_ch13; saves its parameters.
WORKER = textwrap.dedent('''
    import sys
    import numpy as onp
    import gluon_aug
    from gluon_aug import train_batch_ch13
    from gluon_aug.run import distributed
    from mxnet import gluon, init, np, npx

    out, steps, local = sys.argv[1], 3, 4
    kv = distributed.create_kvstore('dist_sync', timeout=60)
    rank, workers = distributed.rank_and_size(kv)
    X, Y = [onp.load(out + '/data.npz')[k] for k in ('X', 'Y')]
    gluon_aug.seed_everything(7)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(8, activation='relu'), gluon.nn.Dense(3))
    net.initialize(init.Xavier(), ctx=[npx.cpu()])
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.5, 'momentum': 0.9, 'wd': 1e-3,
                             **distributed.optimizer_rescale(kv)}, kvstore=kv)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for s in range(steps):
        rows = slice(s * local * workers + rank * local, s * local * workers + (rank + 1) * local)
        train_batch_ch13(net, np.array(X[rows]), np.array(Y[rows]), loss, trainer, [npx.cpu()])
    onp.savez(f'{out}/rank{rank}.npz',
              *[p.data().asnumpy() for p in net.collect_params().values()])
    print('done', rank, workers, flush=True)
''')


def single_process_reference(X, Y, global_batch, steps):
    """The same net, init and optimizer in one process, each step on the whole global batch."""
    import gluon_aug
    from gluon_aug import train_batch_ch13
    from mxnet import gluon, init, np, npx
    gluon_aug.seed_everything(7)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(8, activation='relu'), gluon.nn.Dense(3))
    net.initialize(init.Xavier(), ctx=[npx.cpu()])
    net(np.array(X[:1]))   # materialize the deferred shapes to record the initial values
    initial = [p.data().asnumpy() for p in net.collect_params().values()]
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.5, 'momentum': 0.9, 'wd': 1e-3}, kvstore=None)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for s in range(steps):
        rows = slice(s * global_batch, (s + 1) * global_batch)
        train_batch_ch13(net, np.array(X[rows]), np.array(Y[rows]), loss, trainer, [npx.cpu()])
    return initial, [p.data().asnumpy() for p in net.collect_params().values()]


# -- the kvstore on loopback ---------------------------------------------------------------

def test_dist_sync_two_workers_equal_one_process_on_the_global_batch(tmp_path, procs):
    rng = onp.random.RandomState(0)
    X = rng.randn(3 * 8, 5).astype('float32')
    Y = rng.randint(0, 3, size=3 * 8).astype('float32')
    onp.savez(tmp_path / 'data.npz', X=X, Y=Y)
    (tmp_path / 'worker.py').write_text(WORKER)
    port = free_port()
    procs.start(PS_ROLE, dmlc_env('scheduler', port, 2))
    procs.start(PS_ROLE, dmlc_env('server', port, 2))
    workers = [procs.start([sys.executable, str(tmp_path / 'worker.py'), str(tmp_path)],
                           dmlc_env('worker', port, 2)) for _ in range(2)]
    for w in workers:
        out, err = w.communicate(timeout=90)
        assert w.returncode == 0, err
        assert 'done' in out
    got = [onp.load(tmp_path / f'rank{r}.npz') for r in (0, 1)]
    got = [[g[f'arr_{i}'] for i in range(len(g.files))] for g in got]
    initial, want = single_process_reference(X, Y, 8, 3)
    assert len(got[0]) == len(want) == 4
    for a, b, ref in zip(got[0], got[1], want):
        onp.testing.assert_array_equal(a, b)                   # the workers agree exactly
        onp.testing.assert_allclose(a, ref, rtol=1e-5, atol=1e-6)
    # training moved the weights: the comparison is not between two initial states
    assert all(not onp.allclose(a, b) for a, b in zip(want, initial))


# -- train.launch end to end ------------------------------------------------------------

@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (41,), 12)


def test_launch_two_workers_train_cifar_end_to_end(data_dir, tmp_path):
    out = tmp_path / 'run'
    proc = run_module('train.launch', '-n', '2', '--', sys.executable, '-m', 'train.cifar',
                      '--kvstore', 'dist_sync', '--data', data_dir, '--out', str(out),
                      '--model', 'cifar_resnet20_v1', '--epochs', '2', '-b', '8',
                      '--devices', 'cpu', '-j', '0', '--seed', '11', '--no-progress',
                      timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for rank in (0, 1):
        mine = [l for l in lines if l.startswith(f'[worker {rank}] ')]
        assert any(f'joined dist_sync as worker rank {rank} of 2' in l for l in mine), lines
        assert any(l.endswith('examples/sec on [cpu(0)]') for l in mine), lines
        assert any(' test acc ' in l for l in mine), lines
    assert sorted(os.listdir(out)) == ['.lock', 'checkpoint.npz', 'curves.png', 'metrics.json',
                                       'model.params']   # rank 0 alone wrote
    metrics = json.loads((out / 'metrics.json').read_text())
    config, run = metrics['config'], metrics['run']
    assert config['kvstore'] == 'dist_sync' and run['workers'] == 2 and run['rank'] == 0
    assert run['global_batch_size'] == 16 and config['seed'] == 11
    # 41 examples over 2 workers: 20 each at least, 2 full batches of 8 each per epoch
    assert [e['examples'] for e in metrics['epochs']] == [16, 16]


def test_launch_ends_the_job_when_a_worker_fails(tmp_path):
    flag, pids = tmp_path / 'first', tmp_path / 'pids'
    # the first worker to start sleeps (its pid recorded), the second fails at once
    script = (f"import os, sys, time\n"
              f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
              f"try:\n"
              f"    os.close(os.open({str(flag)!r}, os.O_CREAT | os.O_EXCL))\n"
              f"except FileExistsError:\n"
              f"    print('worker failing', flush=True); sys.exit(3)\n"
              f"time.sleep(120)\n")
    start = time.monotonic()
    proc = run_module('train.launch', '-n', '2', '--grace', '5', '--', sys.executable, '-c',
                      script, timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert elapsed < 30, elapsed
    assert 'exited with status 3' in proc.stderr
    assert 'worker failing' in proc.stdout
    for pid in map(int, pids.read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_launch_without_a_command_is_one_line_exit_2():
    proc = run_module('train.launch', '-n', '2', timeout=60)
    assert_one_line_error(proc, 'no worker command', '--')
    proc = run_module('train.launch', '-n', '0', '--', 'true', timeout=60)
    assert_one_line_error(proc, '-n/--num-workers must be at least 1')


# -- clear errors ------------------------------------------------------------------------

def test_dist_kvstore_without_dmlc_variables_says_how_to_launch(data_dir, tmp_path):
    env = {k: '' for k in os.environ if k.startswith('DMLC_')}
    out = tmp_path / 'run'
    proc = run_module('train.cifar', '--kvstore', 'dist_sync', '--data', data_dir,
                      '--out', str(out), '--devices', 'cpu', env=env, timeout=60)
    assert_one_line_error(proc, '--kvstore dist_sync', 'DMLC_ROLE', 'python -m train.launch')
    assert not out.exists()


def test_unknown_kvstore_is_one_line_exit_2(data_dir):
    proc = run_module('train.cifar', '--kvstore', 'dist_sinc', '--data', data_dir, timeout=60)
    assert_one_line_error(proc, "invalid choice: 'dist_sinc'", 'dist_sync')


def test_worker_without_a_scheduler_times_out_with_one_line(data_dir):
    port = free_port()   # nobody listens here
    env = dmlc_env('worker', port, 2, GLUON_AUG_KVSTORE_TIMEOUT='2')
    start = time.monotonic()
    proc = run_module('train.cifar', '--kvstore', 'dist_sync', '--data', data_dir,
                      '--devices', 'cpu', env=env, timeout=60)
    assert time.monotonic() - start < 30
    assert_one_line_error(proc, f'cannot reach the scheduler at 127.0.0.1:{port} within 2 s',
                          'GLUON_AUG_KVSTORE_TIMEOUT')


def test_worker_whose_job_never_starts_times_out_with_one_line(data_dir, procs):
    port = free_port()
    procs.start(PS_ROLE, dmlc_env('scheduler', port, 2))   # no server, no second worker
    env = dmlc_env('worker', port, 2, GLUON_AUG_KVSTORE_TIMEOUT='4')
    proc = run_module('train.cifar', '--kvstore', 'dist_sync', '--data', data_dir,
                      '--devices', 'cpu', env=env, timeout=60)
    assert_one_line_error(proc, 'the job did not start within 4 s',
                          'DMLC_NUM_WORKER=2 workers and DMLC_NUM_SERVER=1 servers')


# -- helpers without processes -----------------------------------------------------------

def test_worker_spans_share_one_plan_are_disjoint_and_give_equal_full_batches():
    from gluon_aug.data.sampling import EpochSampler
    samplers = [EpochSampler(23, True, 5, part=(3, index), batch_size=3) for index in range(3)]
    whole = EpochSampler(23, True, 5)
    seen = set()
    for _ in range(10):
        spans = [list(s) for s in samplers]
        assert [len(span) for span in spans] == [6, 6, 6]   # 23 // 3 // 3 full batches of 3
        # one shared plan: the spans are consecutive pieces of the same epoch's order
        assert sum(spans, []) == list(whole)[:18]
        seen |= {i for span in spans for i, _ in span}
    assert seen == set(range(23))   # the dropped rest differs from epoch to epoch


def test_a_worker_span_smaller_than_a_batch_is_a_usage_error():
    from gluon_aug.data.sampling import EpochSampler
    from gluon_aug.errors import UsageError
    with pytest.raises(UsageError, match='--batch-size 8 per worker is more than the 5'):
        EpochSampler(10, True, 0, part=(2, 1), batch_size=8)


def test_worker_seeds_differ_by_rank_and_follow_the_run_seed():
    from gluon_aug.run.distributed import worker_seed
    assert worker_seed(5, 0, 1) == 5
    seeds = {worker_seed(5, r, 4) for r in range(4)}
    assert len(seeds) == 4 and all(0 <= s < 2 ** 31 for s in seeds)
    assert worker_seed(5, 1, 4) == worker_seed(5, 1, 4) != worker_seed(6, 1, 4)


def test_local_kvstore_names_pass_through_unchanged():
    from gluon_aug.run.distributed import check_kvstore, create_kvstore, optimizer_rescale
    assert create_kvstore('device') == 'device' and create_kvstore('none') is None
    assert create_kvstore(None) is None and optimizer_rescale('device') == {}
    assert check_kvstore('local') == 'local'


def test_worker_failing_after_joining_ends_the_job_promptly(tmp_path):
    # Without exit_promptly_on_error the failing worker would hang in MXNet's exit
    # barrier while rank 0 waits for its push: the launcher would never notice.
    script = tmp_path / 'fail_after_join.py'
    script.write_text(textwrap.dedent('''
        import time
        import mxnet as mx
        from gluon_aug.run import distributed
        kv = distributed.create_kvstore('dist_sync', timeout=60)
        kv.init(3, mx.nd.zeros((2,)))
        with distributed.exit_promptly_on_error(kv):
            if kv.rank == 1:
                raise RuntimeError('worker 1 breaks after joining')
            kv.push(3, mx.nd.ones((2,)))
            out = mx.nd.zeros((2,))
            kv.pull(3, out=out)
            out.wait_to_read()     # never completes: rank 1 does not push
            time.sleep(120)
    '''))
    start = time.monotonic()
    proc = run_module('train.launch', '-n', '2', '--grace', '3', '--', sys.executable,
                      str(script), timeout=90)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert time.monotonic() - start < 45
    assert '[worker 1] RuntimeError: worker 1 breaks after joining' in proc.stdout
    assert 'worker 1 exited with status 1; ending the other processes' in proc.stderr


# -- distributed runs repeat and resume ------------------------------------------------------

DIST_EPOCHS = 4   # enough steps after the first checkpoint for a kill to land mid-run
DIST_RUN = ['--kvstore', 'dist_sync', '--model', 'cifar_resnet20_v1', '--epochs', str(DIST_EPOCHS),
            '-b', '8',
            '--devices', 'cpu', '-j', '0', '--seed', '11', '--no-progress',
            '--checkpoint-every', '1']


def launch_cifar(data, *args, timeout=180):
    return run_module('train.launch', '-n', '2', '--', sys.executable, '-m', 'train.cifar',
                      '--data', data, *DIST_RUN, *args, timeout=timeout)


def params_bytes(out):
    return (out / 'model.params').read_bytes()


@pytest.fixture(scope='module')
def dist_reference(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('dist') / 'ref'
    proc = launch_cifar(data_dir, '--out', str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_two_seeded_dist_runs_give_bitwise_identical_params(data_dir, dist_reference, tmp_path):
    out = tmp_path / 'again'
    proc = launch_cifar(data_dir, '--out', str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert params_bytes(out) == params_bytes(dist_reference)
    epochs = [{k: v for k, v in e.items() if 'seconds' not in k and 'per_sec' not in k}
              for e in json.loads((out / 'metrics.json').read_text())['epochs']]
    ref = [{k: v for k, v in e.items() if 'seconds' not in k and 'per_sec' not in k}
           for e in json.loads((dist_reference / 'metrics.json').read_text())['epochs']]
    assert epochs == ref


def worker_pids(launcher_pid):
    """Pids of the job's training workers (not the scheduler or server)."""
    pids = []
    for pid in descendants(launcher_pid):
        try:
            with open(f'/proc/{pid}/environ', 'rb') as f:
                if b'DMLC_ROLE=worker' in f.read().split(b'\0'):
                    with open(f'/proc/{pid}/cmdline', 'rb') as g:
                        if b'train.cifar' in g.read():
                            pids.append(pid)
        except OSError:
            pass
    return pids


@pytest.mark.parametrize('victim', ['one worker', 'whole job'])
def test_dist_run_killed_and_resumed_ends_bitwise_identical(victim, data_dir, dist_reference,
                                                            tmp_path):
    out = tmp_path / 'run'
    job = subprocess.Popen([sys.executable, '-m', 'train.launch', '-n', '2', '--',
                            sys.executable, '-m', 'train.cifar', '--data', data_dir, *DIST_RUN,
                            '--out', str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / 'checkpoint.npz').exists():   # one step done and saved
            assert time.monotonic() < deadline and job.poll() is None, job.communicate()
            time.sleep(0.05)
        workers = worker_pids(job.pid)   # at once: a step takes ~50 ms on a fast CPU
        assert len(workers) == 2
        victims = workers[-1:] if victim == 'one worker' else [job.pid] + descendants(job.pid)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        job.communicate(timeout=60)
    finally:
        for pid in [job.pid] + descendants(job.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert job.returncode != 0 and not (out / 'metrics.json').exists()
    state = json.loads(__import__('numpy').load(out / 'checkpoint.npz')['state'].tobytes())
    assert (state['epoch'], state['batch']) != (DIST_EPOCHS, 0)   # killed before the end
    proc = run_module('train.launch', '-n', '2', '--', sys.executable, '-m', 'train.cifar',
                      '--data', data_dir, *DIST_RUN, '--resume', str(out), timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert params_bytes(out) == params_bytes(dist_reference)


FIRST_WEIGHTS = textwrap.dedent('''
    import hashlib, sys
    from gluon_aug import seeding
    from gluon_aug.run import distributed
    from gluon_aug.run.config import RunConfig, settle
    from gluon_aug.models.zoo import get_model
    from gluon_aug.run.build import build_training
    from mxnet import npx

    kv = distributed.create_kvstore('dist_sync', timeout=60)
    rank, workers = distributed.rank_and_size(kv)
    config = RunConfig(kvstore='dist_sync', data=sys.argv[1], model='cifar_resnet20_v1',
                       seed=3, batch_size=8, num_workers=0)
    seeding.seed_everything(distributed.worker_seed(3, rank, workers))  # as run_cifar does
    net = get_model(config.model)
    s = settle(config)
    parts = build_training(s.config, s.recipe, net, [npx.cpu()], kv)
    digest = hashlib.sha256()
    for p in net.collect_params().values():
        digest.update(p.data().asnumpy().tobytes())
    print('weights before the first gradient', rank, digest.hexdigest(), flush=True)
''')


def test_every_worker_takes_its_first_gradient_on_rank_0s_weights(data_dir, tmp_path):
    script = tmp_path / 'first_weights.py'
    script.write_text(FIRST_WEIGHTS)
    proc = run_module('train.launch', '-n', '2', '--', sys.executable, str(script), data_dir,
                      timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    digests = {}
    for line in proc.stdout.splitlines():
        if 'weights before the first gradient' in line:
            _, rank, digest = line.rsplit(' ', 2)
            digests[rank] = digest
    assert len(digests) == 2 and len(set(digests.values())) == 1, proc.stdout
