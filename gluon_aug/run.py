"""One training run as the command line describes it: validate, train, record.

``run_cifar(...)`` is what ``python -m train.cifar`` calls. It checks every
input before touching the disk or the devices (bad input raises
``UsageError``), trains through the book's ``train_with_data_aug`` and, with
`out`, writes ``metrics.json`` and ``curves.png``.
"""
import json
import math
import os
import platform
import shlex
import sys
import time

from ._mxnet import gluon, mx
from .batch_aug import batch_split, get_batch_preset
from .data import check_cifar_folder
from .devices import parse_devices, split_batch
from .distributed import (broadcast_seed, check_kvstore, create_kvstore,
                          exit_promptly_on_error, rank_and_size, worker_seed)
from .checkpoint import Checkpointer, check_same_config, load_checkpoint
from .engine import summary_lines, train_with_data_aug
from .errors import UsageError
from .models import get_model
from .plotting import Animator
from .presets import eval_transform, get_preset
from .seeding import draw_seed, seed_everything


def library_versions():
    versions = {'python': platform.python_version(), 'mxnet': mx.__version__}
    for name in ('numpy', 'gluoncv', 'matplotlib', 'tqdm'):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    from . import __version__
    versions['gluon_aug'] = __version__
    return versions


def check_positive(name, value, kind=int):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value \
            or value <= 0 or (kind is int and int(value) != value):
        what = 'a positive integer' if kind is int else 'a positive number'
        raise UsageError(f"{name} must be {what}, got {value!r}")


def prepare_out_dir(out, overwrite):
    """Refuse to overwrite a previous run; make sure `out` is writable."""
    previous = [n for n in ('metrics.json', 'checkpoint.pkl') if os.path.exists(os.path.join(out, n))]
    if previous and not overwrite:
        raise UsageError(f"--out {out!r} already holds a run ({', '.join(previous)}); pass "
                         "another folder, --resume to continue it, or --overwrite to replace it")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r} is a file, not a folder; pass a folder path")
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f'.write-test-{os.getpid()}')  # workers may share `out`
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as err:
        raise UsageError(f"--out {out!r} is not writable ({err.strerror}); pass a folder "
                         "you can write to") from None


def command_line(argv=None):
    """The command that started this process, as the user would type it."""
    argv = list(sys.argv if argv is None else argv)
    head = argv[0]
    parent, name = os.path.split(os.path.abspath(head))
    if os.path.basename(parent) == 'train' and name.endswith('.py'):
        head = f'python -m train.{name[:-3]}'  # run as `python -m train.X`
    return ' '.join([head] + [shlex.quote(a) for a in argv[1:]])


def write_json(path, obj):
    """Write JSON atomically: a reader never sees half a file."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


def run_cifar(*, aug='flip', aug_backend='sample', normalize=False, model='resnet18',
              epochs=10, batch_size=256, lr=0.001,
              devices=None, data=None, num_workers=None, limit_train=None,
              limit_test=None, out=None, seed=None, overwrite=False, progress=True,
              kvstore='device', resume=None, checkpoint_every=None, thread_pool=False,
              loader_timeout=120):
    """Train `model` on CIFAR-10 with preset `aug`; return the metrics dict.

    Defaults are the book's experiment: d2l ResNet-18, Adam lr 0.001, batch
    256, 10 epochs, all GPUs (else one CPU), the `flip` preset.
    `aug_backend='batch'` runs the preset's batched twin (``batch_aug``) on
    each device's shard inside the training step; the loader then only
    converts to tensors, and Normalize runs after the augmentation.
    With a ``dist_*`` `kvstore` (see ``gluon_aug.distributed``) this is one
    worker: `batch_size` is per worker, rank 0 alone writes `out`.

    With `out`, a checkpoint is saved after every epoch (and every
    `checkpoint_every` batches); `resume` (a previous run's `out`) continues
    from its checkpoint and ends bitwise identical to an uninterrupted run.
    The final parameters are saved as ``model.params``.
    """
    # -- validate everything first: bad input must not cost a download or a file
    check_positive('--epochs', epochs)
    check_positive('--batch-size', batch_size)
    check_positive("--lr", lr, kind=float)
    if not math.isfinite(lr):
        raise UsageError(f"--lr must be a finite positive number, got {lr!r}")
    for name, value in (('--limit-train', limit_train), ('--limit-test', limit_test)):
        if value is not None:
            check_positive(name, value)
    if num_workers is not None and (not isinstance(num_workers, int) or num_workers < 0):
        raise UsageError(f"--num-workers must be 0 or more, got {num_workers!r}")
    if str(kvstore).startswith('dist') and (resume is not None or checkpoint_every):
        # checked before joining: a worker failing after it would hold up the others
        raise UsageError("checkpoints are not supported with a dist_* kvstore yet (the "
                         "optimizer state lives on the parameter servers); drop --resume "
                         "and --checkpoint-every")
    check_kvstore(kvstore)
    if checkpoint_every is not None:
        check_positive('--checkpoint-every', checkpoint_every)
    check_positive('--loader-timeout', loader_timeout, kind=float)
    ckpt = None
    if resume is not None:
        if out is not None and os.path.abspath(out) != os.path.abspath(resume):
            raise UsageError(f"--out {out!r} and --resume {resume!r} differ; a resumed run "
                             "writes into the folder it resumes, pass only --resume")
        out = resume
        ckpt = load_checkpoint(resume)
        seed = ckpt['state']['config']['seed'] if seed is None else seed
    train_augs, test_augs = get_preset(aug, normalize), eval_transform(normalize)
    split = {}
    if aug_backend == 'batch':  # the loader converts, each device augments its shard
        batch_aug = get_batch_preset(aug, normalize)
        batch_aug.hybridize(static_alloc=True, static_shape=True)
        train_augs = eval_transform(False)
        split = {'split_f': batch_split(batch_aug), 'eval_split_f': split_batch}
    elif aug_backend != 'sample':
        raise UsageError(f"--aug-backend must be sample or batch, got {aug_backend!r}")
    ctxs = parse_devices(devices)
    if batch_size < len(ctxs):
        raise UsageError(f"--batch-size {batch_size} is smaller than the {len(ctxs)} devices "
                         f"it is split across; pass at least {len(ctxs)}")
    net = get_model(model, num_classes=10)
    if data is not None:
        check_cifar_folder(data)  # before any output: a bad folder must not leave files
    if out is not None:
        prepare_out_dir(out, overwrite or resume is not None)

    kv = create_kvstore(kvstore)  # dist_*: joins the job, waiting for every worker
    rank, workers = rank_and_size(kv)
    seed = broadcast_seed(kv, draw_seed() if seed is None else seed)  # rank 0's seed
    seed_everything(worker_seed(seed, rank, workers))
    config = {'aug': aug, 'aug_backend': aug_backend, 'normalize': normalize, 'model': model,
              'epochs': epochs, 'batch_size': batch_size, 'lr': lr, 'optimizer': 'adam', 'devices': str(ctxs),
              'data': os.path.abspath(data) if data else None,
              'num_workers': num_workers, 'limit_train': limit_train,
              'limit_test': limit_test, 'seed': seed,
              'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
              'command': command_line(), 'kvstore': kvstore,
              'checkpoint_every': checkpoint_every}
    if ckpt is not None:
        check_same_config(ckpt['state']['config'], config, resume)
        if ckpt['state']['epoch'] > epochs:
            raise UsageError(f"--resume {resume!r} has finished {ckpt['state']['epoch']} "
                             f"epochs, more than --epochs {epochs}; pass --epochs of at least "
                             f"{ckpt['state']['epoch']}")
    if workers > 1:
        config.update(workers=workers, rank=rank, global_batch_size=batch_size * workers,
                      worker_seed=worker_seed(seed, rank, workers))
    history = []
    animator = Animator(xlabel='epoch', xlim=[1, epochs], ylim=[0, 1],
                        legend=['train loss', 'train acc', 'test acc'])
    # One process: checkpoint into `out`. A distributed job saves none (see above).
    saver = Checkpointer(out if workers == 1 else None, config, history, animator,
                         every=checkpoint_every, ckpt=ckpt)
    start = time.perf_counter()
    with exit_promptly_on_error(kv):
        train_with_data_aug(train_augs, test_augs, net, lr, batch_size=batch_size, **split,
                            num_epochs=epochs, devices=ctxs, root=data,
                            num_workers=num_workers, limit_train=limit_train,
                            limit_test=limit_test, animator=animator,
                            progress=progress and rank == 0, kvstore=kv,
                            seed=worker_seed(seed, rank, workers), thread_pool=thread_pool,
                            loader_timeout=loader_timeout, setup=saver.setup,
                            on_batch=saver.on_batch, on_epoch=saver.on_epoch)
    timed = [h for h in history if h['examples_per_sec']]  # a resumed run times fewer
    examples_per_sec = (sum(h['examples'] for h in timed) /
                        sum(h['examples'] / h['examples_per_sec'] for h in timed)) if timed else 0.0
    metrics = {
        'config': config,
        'versions': library_versions(),
        'epochs': history,
        'final': {'train_loss': history[-1]['train_loss'],
                  'train_acc': history[-1]['train_acc'],
                  'test_acc': history[-1]['test_acc'],
                  # the book's figure: examples / timed step seconds
                  'examples_per_sec': examples_per_sec,
                  # 1/5/15-minute load: timings are only comparable on an idle machine
                  'load_average': list(os.getloadavg()),
                  'wall_seconds': time.perf_counter() - start},
    }
    if ckpt is not None and ckpt['state']['epoch'] == epochs:  # nothing was left to train
        for line in summary_lines(history[-1]['train_loss'], history[-1]['train_acc'],
                                  history[-1]['test_acc'], examples_per_sec, ctxs):
            print(line)
    if out is not None and rank == 0:
        saver.net.save_parameters(os.path.join(out, 'model.params'))
        write_json(os.path.join(out, 'metrics.json'), metrics)
        animator.savefig(os.path.join(out, 'curves.png'), fit_y=True)
    animator.close()
    return metrics
