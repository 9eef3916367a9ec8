"""One training run as a ``RunConfig`` describes it: validate, train, record.

``run_cifar(config)`` is what ``python -m train.cifar`` calls. It checks every
input before touching the disk or the devices (bad input raises
``UsageError``), then either

- runs the chapter's code path and nothing else (``config.book``: the book's
  ``train_with_data_aug`` on an imperative net), or
- the default mode: the same step (``train_batch_ch13``) in our loop
  (``loop.fit``), with a seeded, resumable loader, a compiled net, a progress
  bar, checkpoints and distributed training (README, "Departures from the book").

With ``config.out`` it writes ``metrics.json`` (``asdict(config)`` and the
figures) and ``curves.png``; the default mode also ``model.params`` and the
checkpoint. It returns the metrics dict.
"""
import contextlib
import dataclasses
import io
import os
import sys
import time

from .._mxnet import init
from ..augment.presets import eval_transform, get_preset
from ..book.ch13 import train_with_data_aug
from ..book.devices import parse_devices
from ..book.plotting import Animator
from ..data.cifar import check_cifar_folder, data_fingerprint
from ..data.download import ensure_cifar10
from ..errors import UsageError
from ..files import write_json
from ..models.zoo import get_model
from ..seeding import draw_seed, seed_everything
from .build import build_training, recipe_of
from .checkpoint import Checkpointer, load_checkpoint
from .config import check_config, resolve_recipe, resume_view, RunConfig
from .distributed import (broadcast_seed, create_kvstore, exit_promptly_on_error, rank_and_size,
                          worker_seed)
from .loop import Curves, examples_per_sec, fit, Position, ProgressBar
from .outputs import command_line, library_versions, prepare_out_dir


def run_cifar(config=None, **overrides):
    """Train on CIFAR-10 as `config` (a ``RunConfig``, default: the book's
    experiment) says, with `overrides` replacing its fields; return the metrics."""
    config, overridden = resolve_recipe(dataclasses.replace(config or RunConfig(), **overrides))
    check_config(config)
    if config.book:
        return run_book(config)
    config, saved = resumed(config)
    ctxs, net = parse_devices(config.devices), get_model(config.model, num_classes=10)
    if config.batch_size < len(ctxs):
        raise UsageError(f"--batch-size {config.batch_size} is smaller than the {len(ctxs)} "
                         f"devices it is split across; pass at least {len(ctxs)}")
    prepare_folders(config, overwrite=config.overwrite or saved is not None)
    fingerprint = data_fingerprint(config.data)
    if saved is not None:
        check_resumable(saved[0], config, fingerprint)

    kv = create_kvstore(config.kvstore)  # dist_*: joins the job, waiting for every worker
    rank, workers = rank_and_size(kv)
    with exit_promptly_on_error(kv):   # from here on, an error must not hang the others
        if saved is not None and saved[0]['info']['workers'] != workers:
            raise UsageError(f"--resume {config.resume!r} was trained by "
                             f"{saved[0]['info']['workers']} workers, this job has {workers}; "
                             "resume with as many, or start a new --out")
        config = dataclasses.replace(config, seed=broadcast_seed(
            kv, draw_seed() if config.seed is None else config.seed))  # rank 0's seed
        run = {'command': command_line(), 'devices': str(ctxs),
               'omp_num_threads': os.environ.get('OMP_NUM_THREADS')}
        if workers > 1:
            run.update(workers=workers, rank=rank, global_batch_size=config.batch_size * workers,
                       worker_seed=worker_seed(config.seed, rank, workers))
        seed_everything(worker_seed(config.seed, rank, workers))
        start = time.perf_counter()
        parts = build_training(config, net, ctxs, kv)
        curves = Curves(config.epochs)
        # rank 0 writes the checkpoint; every worker resumes from it
        saver = Checkpointer(config.out if rank == 0 else None, net, parts['trainer'],
                             {'config': dataclasses.asdict(config), 'workers': workers,
                              'data': fingerprint},
                             every=config.checkpoint_every,
                             parts={'curves': curves, **parts['stateful']})
        position = Position()
        if saved is not None:
            position = saver.restore(*saved)
            parts['train_iter'].epoch_sampler.set_position(
                position.epoch, position.batch * config.batch_size)
        # the recipe's callbacks (schedule, averaging) act before a batch is checkpointed
        callbacks = parts['callbacks'] + [curves]
        callbacks += [ProgressBar()] if config.progress and rank == 0 else []
        callbacks += [saver] if saver.out else []
        history = fit(net, parts['train_iter'], parts['test_iter'], parts['loss'],
                      parts['trainer'], config.epochs, ctxs, parts['split_f'],
                      eval_split_f=parts['eval_split_f'], eval_net=parts['eval_net'],
                      callbacks=callbacks, start=position, history=saver.history)
    metrics = metrics_of(config, run, history, time.perf_counter() - start)
    metrics['recipe'] = {'name': config.recipe, 'without': list(config.without),
                         'overrides': overridden,
                         'ingredients': dataclasses.asdict(recipe_of(config))}
    if config.out is not None and rank == 0:
        net.save_parameters(os.path.join(config.out, 'model.params'))
        write_outputs(config.out, metrics, curves.animator)
    curves.animator.close()
    return metrics


def resumed(config):
    """(config, checkpoint or None): with `resume`, the run continues in that folder
    with the checkpoint's seed."""
    if config.resume is None:
        return config, None
    if config.out is not None and os.path.abspath(config.out) != os.path.abspath(config.resume):
        raise UsageError(f"--out {config.out!r} and --resume {config.resume!r} differ; a "
                         "resumed run writes into the folder it resumes, pass only --resume")
    saved = load_checkpoint(config.resume)
    seed = saved[0]['info']['config']['seed'] if config.seed is None else config.seed
    return dataclasses.replace(config, out=config.resume, seed=seed), saved


def prepare_folders(config, overwrite):
    """Check the data folder (or download the data), then make `out`: bad or
    missing data must not leave files behind."""
    if config.data is not None:
        check_cifar_folder(config.data)
    else:
        ensure_cifar10()   # Gluon's location, as the book; fails before `out` exists
    if config.out is not None:
        prepare_out_dir(config.out, overwrite)


def check_resumable(state, config, fingerprint):
    """UsageError unless `config` continues the run its checkpoint `state` saved,
    on the same data files."""
    saved, now = resume_view(state['info']['config']), resume_view(config)
    for key, value in saved.items():
        if value != now[key]:
            raise UsageError(
                f"--resume {config.resume!r} was trained with {key}={value!r}, this run has "
                f"{key}={now[key]!r}; pass the same settings, or start a new --out")
    for name, (size, sha1) in state['info']['data'].items():
        if fingerprint.get(name) != [size, sha1]:
            raise UsageError(
                f"--resume {config.resume!r} was trained on other data: {name} had {size} "
                f"bytes and SHA-1 {sha1[:12]}..., the data given now "
                + (f"has {fingerprint[name][0]} bytes and SHA-1 {fingerprint[name][1][:12]}..."
                   if name in fingerprint else "lacks it")
                + "; pass the run's --data, or start a new --out")
    if state['epoch'] > config.epochs:
        raise UsageError(f"--resume {config.resume!r} has finished {state['epoch']} epochs, "
                         f"more than --epochs {config.epochs}; pass --epochs of at least "
                         f"{state['epoch']}")


def metrics_of(config, run, history, wall_seconds):
    """metrics.json: the configuration, where it ran, the epochs, the final figures."""
    last = history[-1]
    return {'config': dataclasses.asdict(config), 'run': run, 'versions': library_versions(),
            'epochs': history,
            'final': {'train_loss': last['train_loss'], 'train_acc': last['train_acc'],
                      'test_acc': last['test_acc'],
                      # the book's figure: examples / timed step seconds
                      'examples_per_sec': examples_per_sec(history),
                      # 1/5/15-minute load: timings are only comparable on an idle machine
                      'load_average': list(os.getloadavg()),
                      'wall_seconds': wall_seconds}}


def write_outputs(out, metrics, animator):
    write_json(os.path.join(out, 'metrics.json'), metrics)
    animator.savefig(os.path.join(out, 'curves.png'), fit_y=True)


class _Tee(io.TextIOBase):
    """Writes to `stream` and keeps a copy (the book's printed lines)."""

    def __init__(self, stream):
        self.stream, self.text = stream, []

    def write(self, s):
        self.text.append(s)
        return self.stream.write(s)

    def flush(self):
        self.stream.flush()


def run_book(config):
    """The chapter's code path and nothing else (``--book``): its global setup
    (``net.initialize(init=init.Xavier(), ctx=devices)``), then its
    ``train_with_data_aug(train_augs, test_augs, net)``. Only what the book's
    code is given may change (``config.check_book``); with `out`, the printed
    lines and the Animator's points are kept in metrics.json and curves.png."""
    devices, net = parse_devices(config.devices), get_model(config.model, num_classes=10)
    prepare_folders(config, config.overwrite)
    net.initialize(init=init.Xavier(), ctx=devices)
    animator = Animator(xlabel='epoch', xlim=[1, config.epochs], ylim=[0, 1],
                        legend=['train loss', 'train acc', 'test acc'])
    tee, start = _Tee(sys.stdout), time.perf_counter()
    with contextlib.redirect_stdout(tee):
        train_with_data_aug(get_preset(config.aug), eval_transform(), net, config.lr,
                            batch_size=config.batch_size, num_epochs=config.epochs,
                            devices=devices, root=config.data, num_workers=config.num_workers,
                            limit_train=config.limit_train, limit_test=config.limit_test,
                            animator=animator)
    seconds = time.perf_counter() - start
    speed = float(''.join(tee.text).strip().splitlines()[-1].split()[0])
    # The Animator holds what train_ch13 drew: train figures at each epoch's end
    # (x = epoch), test accuracy once an epoch
    ends = [(l, a) for x, l, a in zip(animator.X[0], *animator.Y[:2]) if float(x).is_integer()]
    history = [{'epoch': e + 1, 'train_loss': l, 'train_acc': a, 'test_acc': t}
               for e, ((l, a), t) in enumerate(zip(ends, animator.Y[2]))]
    loss, train_acc, test_acc = (history[-1][k] for k in ('train_loss', 'train_acc', 'test_acc'))
    metrics = {'config': dataclasses.asdict(config),
               'run': {'command': command_line(), 'devices': str(devices),
                       'omp_num_threads': os.environ.get('OMP_NUM_THREADS')},
               'versions': library_versions(), 'epochs': history,
               'final': {'train_loss': loss, 'train_acc': train_acc, 'test_acc': test_acc,
                         'examples_per_sec': speed, 'load_average': list(os.getloadavg()),
                         'wall_seconds': seconds}}
    if config.out is not None:   # the trained net too, for train.evaluate/predict/export
        net.save_parameters(os.path.join(config.out, 'model.params'))
        write_outputs(config.out, metrics, animator)
    animator.close()
    return metrics
