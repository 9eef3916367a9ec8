"""One training run in the default mode, as its settled ``RunConfig`` describes.

``run_cifar(config)`` is what ``python -m train.cifar`` calls. It settles the
configuration once (``config.settle``: checked, the recipe's values filled in),
checks every input before touching the disk or the devices (bad input raises
``UsageError``), then either hands over to the chapter's code path
(``book_mode.run_book``, for ``config.book``) or trains in the default mode:
the same step (``train_batch_ch13``) in our loop (``loop.fit``), with a seeded,
resumable loader, a compiled net, a progress bar, checkpoints and distributed
training (docs/BOOK.md, "Departures from the book").

With ``config.out`` it writes ``metrics.json``, ``curves.png``,
``model.params`` and the checkpoint. It returns the metrics dict.
"""
import dataclasses
import os
import shlex
import time

from ..book.devices import parse_devices
from ..data.cifar import data_fingerprint
from ..errors import Interrupted, Terminated, UsageError
from ..models.zoo import get_model
from ..seeding import draw_seed, seed_everything
from .book_mode import run_book
from .build import build_training
from .checkpoint import Checkpointer
from .checkpoint_file import FILENAME, load_checkpoint
from .config import recorded_config, resume_view, RunConfig, settle, typed_config
from .recipes import OVERRIDABLE
from .distributed import (broadcast_seed, create_kvstore, exit_promptly_on_error, rank_and_size,
                          worker_seed)
from .loop import Curves, fit, Position, ProgressBar, StopBetweenSteps
from .outputs import hold_run_folder, new_run_id, prepare_folders
from .record import metrics_record, process_age, run_facts, write_outputs


def run_cifar(config=None, **overrides):
    """Train on CIFAR-10 as `config` (a ``RunConfig``, default: the book's
    experiment) says, with `overrides` replacing its fields; return the metrics.
    With `resume`, the settings must be those of the run it continues."""
    return _run(settle(dataclasses.replace(config or RunConfig(), **overrides)))


def resume_cifar(folder, **given):
    """Continue the run whose --out was `folder` with the settings its checkpoint
    recorded, `given` (RunConfig fields) replacing them; return the metrics. This
    is ``python -m train.cifar --resume DIR [flags]``."""
    saved = load_checkpoint(folder)
    config = dataclasses.replace(checkpoint_config(saved[0], folder), resume=folder, **given)
    return _run(settle(config), saved)


def _run(settings, saved=None):
    """The run of settled `settings`; `saved`: its checkpoint, if read already."""
    if settings.config.book:
        return run_book(settings)
    settings, saved = resumed(settings, saved)
    config = settings.config
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
    # from here on, an error must not hang the others; rank 0 holds the folder
    # a resumed run keeps its id; its checkpoint and metrics.json carry it
    run_id = (saved[0]['info'].get('run_id') if saved else None) or new_run_id()
    with exit_promptly_on_error(kv), hold_run_folder(config.out if rank == 0 else None,
                                                     new_run=saved is None,
                                                     overwrite=config.overwrite):
        if saved is not None and saved[0]['info']['workers'] != workers:
            raise UsageError(f"--resume {config.resume!r} was trained by "
                             f"{saved[0]['info']['workers']} workers, this job has {workers}; "
                             "resume with as many, or start a new --out")
        config = dataclasses.replace(config, seed=broadcast_seed(
            kv, draw_seed() if config.seed is None else config.seed))  # rank 0's seed
        settings = dataclasses.replace(settings, config=config)
        facts = run_facts(ctxs, rank, workers, config, run_id)
        seed_everything(worker_seed(config.seed, rank, workers))
        start, startup = time.perf_counter(), process_age()
        try:
            history, curves = train(settings, net, ctxs, kv, saved,
                                    {'workers': workers, 'data': fingerprint,
                                     'run_id': run_id, 'given': sorted(settings.overrides)})
        except KeyboardInterrupt as err:   # Ctrl-C, or SIGTERM (errors.Terminated)
            raise interrupted(config, err, workers) from None
        metrics = metrics_record(settings, facts, history, time.perf_counter() - start,
                                 startup=startup)
        if config.out is not None and rank == 0:
            write_outputs(config.out, metrics, curves.animator, net)
    curves.animator.close()
    return metrics


def train(settings, net, ctxs, kv, saved, info):
    """Build the run's parts, restore `saved` (a checkpoint) if any, and ``fit``;
    returns (the per-epoch history, the Curves). `info` goes into checkpoints."""
    config, rank = settings.config, rank_and_size(kv)[0]
    parts = build_training(config, settings.recipe, net, ctxs, kv)
    curves = Curves(config.epochs)
    # rank 0 writes the checkpoint; every worker resumes from it
    saver = Checkpointer(config.out if rank == 0 else None, net, parts.trainer,
                         {'config': dataclasses.asdict(config), **info},
                         every=config.checkpoint_every,
                         parts={'curves': curves, **parts.stateful})
    position = Position()
    if saved is not None:
        position = saver.restore(*saved)
        parts.train_iter.epoch_sampler.set_position(position.epoch,
                                                    position.batch * config.batch_size)
    # the recipe's callbacks (schedule, averaging) act before a batch is checkpointed
    callbacks = parts.callbacks + [curves]
    callbacks += [ProgressBar()] if config.progress and rank == 0 else []
    callbacks += [saver] if saver.out else []
    callbacks += [StopBetweenSteps()]   # last: a due checkpoint is written first
    history = fit(net, parts.train_iter, parts.test_iter, parts.loss, parts.trainer,
                  config.epochs, ctxs, parts.split_f, eval_split_f=parts.eval_split_f,
                  eval_net=parts.eval_net, callbacks=callbacks, start=position,
                  history=saver.history, eval_every=config.eval_every)
    return history, curves


def checkpoint_config(state, folder):
    """The RunConfig a checkpoint recorded (``config.recorded_config``'s rule), ready
    to continue it in `folder`: the recipe's values it did not override left to the
    recipe again, as the run was given them."""
    where = f"--resume {folder!r} holds a checkpoint written by another gluon_aug"
    values = recorded_config(state['info']['config'], where)
    try:
        config = typed_config(values)
    except UsageError as err:
        raise UsageError(f"--resume {folder!r}: its checkpoint holds a configuration no run "
                         f"makes ({err}); start a new --out") from None
    given = state['info'].get('given')   # None: written before 0.3.0, all as given
    left = {} if given is None else {n: None for n in OVERRIDABLE if n not in given}
    return dataclasses.replace(config, out=None, resume=None, overwrite=False, **left)


def resumed(settings, saved=None):
    """(settings, checkpoint or None): with `resume`, the run continues in that
    folder with the checkpoint's seed. `saved`: the checkpoint, if read already."""
    config = settings.config
    if config.resume is None:
        return settings, None
    if config.out is not None and os.path.abspath(config.out) != os.path.abspath(config.resume):
        raise UsageError(f"--out {config.out!r} and --resume {config.resume!r} differ; a "
                         "resumed run writes into the folder it resumes, pass only --resume")
    saved = saved or load_checkpoint(config.resume)
    seed = saved[0]['info']['config']['seed'] if config.seed is None else config.seed
    config = dataclasses.replace(config, out=config.resume, seed=seed)
    return dataclasses.replace(settings, config=config), saved


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


def interrupted(config, signal, workers=1):
    """The Interrupted error of a run stopped by `signal` (KeyboardInterrupt or
    Terminated): where its last checkpoint is, and the command that continues it
    (``--resume`` takes the run's settings from its checkpoint)."""
    what, status = (('SIGTERM', 143) if isinstance(signal, Terminated) else ('Ctrl-C', 130))
    path = None if config.out is None else os.path.join(config.out, FILENAME)
    if path is None or not os.path.exists(path):
        return Interrupted(f"stopped by {what} before any checkpoint was written"
                           + ("" if config.out else " (no --out)") + "; start the run again",
                           status)
    job = f"python -m train.launch -n {workers} -- " if workers > 1 else ""
    return Interrupted(f"stopped by {what}; the last checkpoint is {path}: continue with "
                       f"{job}python -m train.cifar --resume {shlex.quote(config.out)}", status)
