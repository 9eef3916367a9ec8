"""Our training loop beside the book's ``train_ch13``: ``fit`` and its callbacks.

``fit`` takes every step with the book's ``train_batch_ch13``, evaluates with
the book's ``evaluate_accuracy_gpus`` and ends with the book's two printed
lines. Around them it adds what a long run needs and the chapter leaves out:

- it starts at a resume position (``Position``: epoch, batch, the epoch's
  running sums), with a loader already positioned there;
- a loss that is not finite stops training with ``RunError``;
- it returns one record per epoch (loss, accuracies, examples/sec, seconds);
- small ``Callback`` objects act at fixed points: ``ProgressBar`` (tqdm),
  ``Curves`` (the book's Animator), ``checkpoint.Checkpointer``.
"""
import math
import time
from dataclasses import dataclass, field

from .. import stopping
from ..book.ch13 import ch13_animator, evaluate_accuracy_gpus, train_batch_ch13
from ..book.devices import split_batch
from ..book.metrics import Accumulator, Timer
from ..errors import RunError
from ..models.layout import fresh_weights
from .step_clock import StepClock


@dataclass
class Position:
    """Where a run stands: `batch` batches of `epoch` (0-based) done, with the
    epoch's running [loss, correct, examples, predictions] `sums`."""
    epoch: int = 0
    batch: int = 0
    sums: list = field(default_factory=lambda: [0.0] * 4)


class Callback:
    """Called at fixed points of ``fit``; each method does nothing unless overridden."""

    def on_fit_start(self, num_epochs, num_batches, start):
        """Before the first step; `start` is the ``Position`` fit starts from."""

    def on_epoch_start(self, epoch):
        """Before the first step of `epoch` (0-based)."""

    def on_batch_start(self, epoch, batch):
        """Before a step of `epoch`, `batch` steps of it being done."""

    def on_batch_end(self, epoch, batch, sums):
        """After `batch` steps of `epoch`; `sums` as ``Position.sums``."""

    def on_evaluate_start(self, epoch):
        """Before `epoch`'s evaluation (e.g. swap averaged weights in)."""

    def on_evaluate_end(self, epoch):
        """After `epoch`'s evaluation (before ``on_epoch_end``)."""

    def on_epoch_end(self, record):
        """After the epoch's evaluation; `record` as ``fit`` returns them."""

    def on_fit_end(self):
        """After the last epoch (not after an error)."""


def examples_per_sec(records):
    """The book's figure over `records`: examples / seconds of timed training steps."""
    timed = [r for r in records if r['examples_per_sec']]
    seconds = sum(r['examples_stepped'] / r['examples_per_sec'] for r in timed)
    return sum(r['examples_stepped'] for r in timed) / seconds if seconds else 0.0


def summary_lines(record, examples_sec, devices):
    """The book's two closing lines of ``train_ch13``."""
    return (f"loss {record['train_loss']:.3f}, train acc {record['train_acc']:.3f}, "
            f"test acc {record['test_acc']:.3f}",
            f'{examples_sec:.1f} examples/sec on {str(devices)}')


# where an epoch's seconds go (its record's 'phase_seconds'): waiting for the loader's batches
# (the array loader's flips and shifts included), the training steps (timed as the
# book times them), the recipe's per-step callbacks (schedule, averaging, a batch
# checkpoint), the evaluation (test-time augmentation included) and the callbacks
# after it (the epoch's checkpoint). STEP_PARTS divide 'step' (``step_clock``): the
# split with any augmentation in it, the forward and backward passes (the rest of
# the step, the book's loss and accuracy sums included), the optimizer's update.
PHASES = ('load', 'step', 'callbacks', 'evaluate', 'epoch_end')
STEP_PARTS = ('step.split', 'step.forward_backward', 'step.optimizer')


def evaluated(epoch, num_epochs, eval_every):
    """Whether ``fit`` evaluates after `epoch` (0-based): every `eval_every`-th and the last."""
    return epoch + 1 == num_epochs or bool(eval_every) and (epoch + 1) % eval_every == 0


def fit(net, train_iter, test_iter, loss, trainer, num_epochs, devices, split_f=split_batch,
        *, eval_split_f=None, eval_net=None, callbacks=(), start=None, history=(),
        eval_every=1):
    """Train from `start` (a ``Position``) to `num_epochs`; return the epoch records.

    `eval_split_f` splits the test batches (None: `split_f`, as the book does;
    pass ``split_batch`` when `split_f` augments, see ``batch_step.BatchSplit``).
    `eval_net` is what evaluation calls instead of `net` (e.g. a test-time
    augmentation wrapper around it, ``ingredients.TTA``).
    `history`: the records of the epochs before `start` (a resumed run), so
    the closing lines can be printed when nothing is left to train.
    `eval_every`: evaluate after every Nth epoch and after the last (0: the last
    only); an epoch not evaluated records ``test_acc`` None.
    """
    eval_split_f = split_f if eval_split_f is None else eval_split_f
    start, records = start or Position(), list(history)
    clock = StepClock(split_f, trainer)   # the step's parts, timed apart
    num_batches = len(train_iter)
    for cb in callbacks:
        cb.on_fit_start(num_epochs, num_batches, start)
    for epoch in range(start.epoch, num_epochs):
        first = start.batch if epoch == start.epoch else 0
        metric, timer = Accumulator(4), Timer()
        metric.add(*(start.sums if first else [0] * 4))
        epoch_start, stepped = time.perf_counter(), 0
        phases = dict.fromkeys(PHASES + STEP_PARTS, 0.0)   # where the epoch's seconds went
        for cb in callbacks:
            cb.on_epoch_start(epoch)
        mark = time.perf_counter()
        for i, (features, labels) in enumerate(train_iter, start=first):
            now = time.perf_counter()
            phases['load'] += now - mark   # the loader's batch (and its augmentation)
            for cb in callbacks:
                cb.on_batch_start(epoch, i)
            timer.start()
            l, acc = train_batch_ch13(net, features, labels, loss, clock.trainer, devices,
                                      clock.split_f)
            metric.add(l, acc, labels.shape[0], labels.size)
            timer.stop()
            parts = clock.take()
            if not math.isfinite(l):
                raise RunError(f"the training loss became {l} at epoch {epoch + 1}, batch "
                               f"{i + 1}; lower --lr (the last checkpoint, if any, is kept)")
            stepped += labels.shape[0]
            for cb in callbacks:
                cb.on_batch_end(epoch, i + 1, list(metric.data))
            mark = time.perf_counter()
            phases['step'] += timer.times[-1]
            phases['step.split'] += parts['split']
            phases['step.optimizer'] += parts['optimizer']
            phases['step.forward_backward'] += timer.times[-1] - sum(parts.values())
            phases['callbacks'] += mark - now - timer.times[-1]
        phases['load'] += time.perf_counter() - mark   # the loader's end of epoch
        mark, test_acc = time.perf_counter(), None
        if evaluated(epoch, num_epochs, eval_every):
            for cb in callbacks:
                cb.on_evaluate_start(epoch)
            test_acc = evaluate_accuracy_gpus(eval_net or net, test_iter, eval_split_f)
            for cb in callbacks:
                cb.on_evaluate_end(epoch)
            fresh_weights(net)   # out of the layout inference left them in (models/layout.py)
        phases['evaluate'] = time.perf_counter() - mark
        records.append({'epoch': epoch + 1, 'train_loss': metric[0] / metric[2],
                        'train_acc': metric[1] / metric[3], 'test_acc': test_acc,
                        'examples': int(metric[2]), 'examples_stepped': stepped,
                        'examples_per_sec': stepped / timer.sum() if timer.times else 0.0,
                        'epoch_seconds': time.perf_counter() - epoch_start,
                        'phase_seconds': phases})
        mark = time.perf_counter()
        for cb in callbacks:
            cb.on_epoch_end(records[-1])
        phases['epoch_end'] = time.perf_counter() - mark   # the checkpoint, mostly
    for cb in callbacks:
        cb.on_fit_end()
    # The book prints metric[2] * num_epochs / timer.sum(): the same figure when every
    # epoch was timed here, and still right for a resumed run.
    done_here = records[len(history):] or records
    for line in summary_lines(records[-1], examples_per_sec(done_here), devices):
        print(line)
    return records


class StopBetweenSteps(Callback):
    """Ctrl-C or SIGTERM during ``fit`` stops it at the next step boundary, after the
    callbacks before this one (a due checkpoint) have run (``stopping``)."""

    def on_fit_start(self, num_epochs, num_batches, start):
        stopping.defer(True)

    def on_batch_end(self, epoch, batch, sums):
        stopping.check()

    def on_epoch_end(self, record):
        stopping.check()

    def on_fit_end(self):
        stopping.defer(False)


class ProgressBar(Callback):
    """A tqdm bar on stderr: batches of the whole run, the epoch's loss and accuracy."""

    def on_fit_start(self, num_epochs, num_batches, start):
        # imported here: at import time tqdm.auto warns in a Jupyter kernel without ipywidgets
        from tqdm.auto import tqdm
        self.num_epochs, self.num_batches = num_epochs, num_batches
        self.bar = tqdm(total=num_epochs * num_batches, unit='batch', dynamic_ncols=True,
                        initial=start.epoch * num_batches + start.batch)

    def on_epoch_start(self, epoch):
        self.bar.set_description(f'epoch {epoch + 1}/{self.num_epochs}')

    def on_batch_end(self, epoch, batch, sums):
        self.bar.update(1)
        if batch % max(1, self.num_batches // 5) == 0 or batch == self.num_batches:
            self.bar.set_postfix(loss=f'{sums[0] / sums[2]:.3f}', acc=f'{sums[1] / sums[3]:.3f}')

    def on_fit_end(self):
        self.bar.close()


class Curves(Callback):
    """The book's Animator, fed as ``train_ch13`` feeds it (5 points an epoch)."""

    def __init__(self, num_epochs):
        self.animator = ch13_animator(num_epochs)

    def on_fit_start(self, num_epochs, num_batches, start):
        self.num_batches = num_batches

    def on_batch_end(self, epoch, batch, sums):
        if batch % max(1, self.num_batches // 5) == 0 or batch == self.num_batches:
            self.animator.add(epoch + batch / self.num_batches,
                              (sums[0] / sums[2], sums[1] / sums[3], None))

    def on_epoch_end(self, record):
        self.animator.add(record['epoch'], (None, None, record['test_acc']))

    def state_dict(self):
        """The points drawn so far (a checkpoint part, see ``checkpoint.Checkpointer``)."""
        return {'X': self.animator.X, 'Y': self.animator.Y}, {}

    def load_state_dict(self, meta, arrays):
        self.animator.X, self.animator.Y = meta['X'], meta['Y']
