"""A finished training run, opened for use: its configuration and its trained net.

``open_run(path)`` checks a run folder (``python -m train.cifar --out PATH``)
and rebuilds its ``RunConfig`` from metrics.json. Two ways to rebuild the net:

- ``evaluation_net(run)``: the net as the run last evaluated it, on the run's
  own device layout, each device with its own parameters from checkpoint.npz
  (written after the last epoch's evaluation). In split-batch training the
  weights are the same on every device but BatchNorm's running statistics
  are not (each device sees its own half-batches), and the run evaluated each
  test shard on its own device. ``save_parameters`` (model.params) averages
  the devices' copies, so only the per-device arrays reproduce the run's test
  accuracy exactly, which is what ``train.evaluate`` promises.
- ``inference_net(run)``: one net on one device from model.params, the
  model the run published (for several devices: the same weights, the
  devices' BatchNorm statistics averaged). ``train.predict`` and
  ``train.export`` use it; for a one-device run it is exactly device 0's net.
"""
import dataclasses
import json
import os
import re
from dataclasses import dataclass

from .._mxnet import init, mx, np
from .._version import __version__
from ..book.devices import num_gpus
from ..data.cifar import CLASSES
from ..errors import reason, UsageError
from ..files import check_mxnet_path
from ..models.precision import check_bf16_cpu, compute_in
from ..models.zoo import get_model
from ..run.checkpoint import load_net_arrays
from ..run.checkpoint_file import FILENAME as CHECKPOINT
from ..run.checkpoint_file import read_checkpoint
from ..run.config import check_config, recorded_config, RunConfig, typed_config
from ..run.outputs import held_by
from ..run.recipes import OVERRIDABLE, recipe_of
from ..run.record import file_fingerprint

PARAMS, METRICS = 'model.params', 'metrics.json'


@dataclass
class TrainedRun:
    """A finished run: its folder, its ``RunConfig``, its metrics.json."""
    path: str
    config: RunConfig
    metrics: dict

    def file(self, name):
        return os.path.join(self.path, name)

    @property
    def recipe(self):
        """The recipe the run followed (its recorded config is complete)."""
        return recipe_of(self.config)

    @property
    def made_by(self):
        return made_by(self.metrics)


def made_by(metrics):
    """The gluon_aug version that wrote `metrics` (metrics.json)."""
    return metrics.get('versions', {}).get('gluon_aug') or 'an unknown version'


def _number(v):
    return type(v) in (int, float)


# what the readers use of metrics.json, and the type each part must have (absent: a
# run made before the part existed); a part of another type is refused, not used
METRICS_PARTS = {
    'config': lambda v: isinstance(v, dict),
    'epochs': lambda v: isinstance(v, list) and all(
        isinstance(e, dict) and type(e.get('epoch')) is int
        and all(_number(e.get(k)) for k in ('train_loss', 'train_acc'))
        and (e.get('test_acc') is None or _number(e['test_acc']))   # None: not evaluated
        for e in v),
    'final': lambda v: isinstance(v, dict) and _number(v.get('test_acc')),
    'run': lambda v: isinstance(v, dict) and all(
        isinstance(v.get(k, ''), str) for k in ('devices', 'run_id', 'command')),
    'versions': lambda v: isinstance(v, dict) and all(
        x is None or isinstance(x, str) for x in v.values()),
    'files': lambda v: isinstance(v, dict) and isinstance(v.get(PARAMS), list)
    and len(v[PARAMS]) == 2 and type(v[PARAMS][0]) is int and isinstance(v[PARAMS][1], str),
}
REQUIRED_PARTS = ('config', 'epochs')


def _read_metrics(path):
    try:
        with open(os.path.join(path, METRICS)) as f:
            metrics = json.load(f)
        if not isinstance(metrics, dict):
            raise ValueError("not a JSON object")
        for part, ok in METRICS_PARTS.items():
            if part not in metrics and part not in REQUIRED_PARTS:
                continue
            if part not in metrics:
                raise ValueError(f"no {part!r} section")
            if not ok(metrics[part]):
                raise ValueError(f"its {part!r} section is {str(metrics[part])[:60]!r}, "
                                 "not what a run writes there")
    except (OSError, ValueError, RecursionError) as err:
        raise UsageError(f"{path!r} is not a gluon_aug run: its {METRICS} is unreadable "
                         f"({type(err).__name__}: {err}); pass the --out folder of a "
                         "python -m train.cifar run") from None
    return metrics


def config_of(path, metrics):
    """The ``RunConfig`` recorded in `metrics` (metrics.json), by the rule every
    reader follows (``config.recorded_config``)."""
    version = made_by(metrics)
    where = (f"{path!r} was made by gluon_aug {version}" if version != __version__ else
             f"{path!r}: its {METRICS} was not written by this gluon_aug ({__version__})")
    recorded = recorded_config(metrics['config'], where)
    try:
        config = typed_config(recorded)
        # choices and ranges as a run checks them (not the dist_* job's variables,
        # which belong to the run's processes, nor --resume, nor whether this CPU
        # computes bfloat16: that is asked when the net is built)
        check_config(dataclasses.replace(config, kvstore='device', resume=None,
                                         dtype='float32'))
        missing = [name for name in OVERRIDABLE if getattr(config, name) is None]
        if missing:   # a run records its recipe's values
            raise UsageError(f"no value for {', '.join(missing)}")
    except UsageError as err:
        raise UsageError(f"{path!r}: its {METRICS} holds a configuration no run makes ({err}); "
                         "pass the --out folder of a finished python -m train.cifar run") from None
    return config


def open_run(path):
    """The finished run in folder `path`, or UsageError saying why it cannot be used."""
    if not os.path.isdir(path):
        raise UsageError(f"run folder {path!r} does not exist; pass the --out folder of a "
                         "python -m train.cifar run")
    check_mxnet_path(path, 'run folder')
    holder = held_by(path)
    if holder is not None:
        raise UsageError(f"{path!r} is being written by a run still going on (pid {holder}); "
                         "wait for it to finish")
    has_metrics = os.path.isfile(os.path.join(path, METRICS))
    metrics = _read_metrics(path) if has_metrics else None
    if not os.path.isfile(os.path.join(path, PARAMS)):
        resumable = os.path.isfile(os.path.join(path, CHECKPOINT))
        raise UsageError(f"{path!r} holds no {PARAMS}: the run did not finish; " + (
            f"continue it with python -m train.cifar --resume {path}" if resumable
            else "pass the --out folder of a finished python -m train.cifar run"))
    if metrics is None:
        raise UsageError(f"{path!r} holds no {METRICS}: the run did not finish writing its "
                         "results; train it again")
    run = TrainedRun(path, config_of(path, metrics), metrics)
    recorded = metrics.get('files', {}).get(PARAMS)   # None: made before 0.3.0
    if recorded is not None and recorded != file_fingerprint(run.file(PARAMS)):
        raise UsageError(f"{path!r} mixes two runs: its {PARAMS} is not the one its {METRICS} "
                         f"records ({recorded[0]} bytes, SHA-1 {recorded[1][:12]}...); use a "
                         "folder that holds one run, or train it again")
    return run


def run_id(run):
    """The id of `run` (metrics.json's run.run_id), or None: made before 0.3.0."""
    return (run.metrics.get('run') or {}).get('run_id')


# -- the net ----------------------------------------------------------------------------

def recorded_devices(run):
    """[(kind, index)] of the devices the run trained on (metrics.json run.devices)."""
    return [(kind, int(i)) for kind, i in re.findall(
        r'(cpu|gpu)\((\d+)\)', run.metrics.get('run', {}).get('devices', ''))]


def run_devices(run, count):
    """The `count` contexts the run evaluated on, or as many CPU contexts when
    those GPUs are not here: (contexts, note or None)."""
    recorded = recorded_devices(run)
    if len(recorded) != count:
        recorded = [('cpu', i) for i in range(count)]
    kinds = {kind for kind, _ in recorded}
    if kinds == {'cpu'}:
        return [mx.cpu(i) for _, i in recorded], None
    if kinds == {'gpu'} and max(i for _, i in recorded) < num_gpus():
        return [mx.gpu(i) for _, i in recorded], None
    return [mx.cpu(i) for i in range(count)], (
        f"the run's devices ({', '.join(f'{k}({i})' for k, i in recorded)}) are not all "
        f"here: {count} CPU contexts stand in for them, so the last digits may differ")


def build_net(config, ctxs):
    """`config.model`, initialized on `ctxs` (shapes inferred), ready for parameters."""
    net = get_model(config.model, num_classes=len(CLASSES))
    if hasattr(net, 'head_kind'):   # fastnet's head scale is the recipe's, not a parameter
        net.head_kind = recipe_of(config).head
    net.initialize(init=init.Xavier(), ctx=ctxs)
    net(np.zeros((1, 3, 32, 32), ctx=ctxs[0]))   # completes the deferred initialization
    return net


def _compile(net, config):
    if config.dtype == 'bfloat16':
        try:
            check_bf16_cpu()
        except UsageError:
            raise UsageError("the run was trained with --dtype bfloat16, which this CPU cannot "
                             "compute (it has no AVX-512, which oneDNN 2.4 needs for "
                             "bfloat16): use it on a machine with AVX-512") from None
    compute_in(net, config.dtype)   # as the run did: the same types,
    if config.hybridize:   # the same graph, the same kernels
        net.hybridize(static_alloc=True, static_shape=True)
    return net


def _read_run_checkpoint(run):
    path = run.file(CHECKPOINT)
    try:
        state, arrays = read_checkpoint(path)
    except ValueError as err:
        raise UsageError(f"{path} {err}; evaluate with the gluon_aug that made the run "
                         f"({run.made_by}), or delete it to use {PARAMS}") from None
    if run_id(run) is not None and state['info'].get('run_id') != run_id(run):
        raise UsageError(f"{path} belongs to another run than {METRICS} (run "
                         f"{state['info'].get('run_id') or 'without an id'}, not "
                         f"{run_id(run)}): the folder mixes two runs; delete {CHECKPOINT} to "
                         f"use {PARAMS}, or train again")
    done = len(run.metrics['epochs'])
    if (state['epoch'], state['batch']) != (done, 0):
        where = (f"after epoch {state['epoch']}" if state['batch'] == 0 else
                 f"at batch {state['batch']} of epoch {state['epoch'] + 1}")
        raise UsageError(f"{path} was saved {where}, not at the end of the {done} epochs "
                         f"{METRICS} records: the run is being resumed, or was resumed and "
                         f"stopped; let it finish, or delete {CHECKPOINT} to use {PARAMS}")
    return state, arrays


@dataclass
class EvaluationNet:
    """The net as the run last evaluated it, and where it came from."""
    net: object
    devices: list
    source: str            # which file, which copies
    note: str = None       # why the result may differ from the run's, if it may
    data: dict = None      # the run's data files: {name: [size, SHA-1]} (checkpoint only)


def evaluation_net(run):
    """The net as the run last evaluated it (see the module docstring); without
    checkpoint.npz, model.params on every device."""
    config = run.config
    if os.path.isfile(run.file(CHECKPOINT)):
        state, arrays = _read_run_checkpoint(run)
        count = sum(1 for k in arrays if k.startswith('param/0/'))
        ctxs, note = run_devices(run, count)
        net = build_net(config, ctxs)
        try:
            load_net_arrays(net, arrays)
        except (KeyError, ValueError) as err:
            raise UsageError(f"{run.file(CHECKPOINT)} does not fit model {config.model} "
                             f"({reason(err)}); the run folder is inconsistent") from None
        return EvaluationNet(_compile(net, config), ctxs, f"{CHECKPOINT} (each device's own "
                             "copy)", note, (state.get('info') or {}).get('data'))
    count = max(1, len(recorded_devices(run)))
    ctxs, note = run_devices(run, count)
    if count > 1:
        note = '; '.join(filter(None, (note, f"{CHECKPOINT} is missing: {PARAMS} holds the "
                                       f"average of the {count} devices' copies, so the "
                                       "accuracy may differ from the run's")))
    return EvaluationNet(_compile(load_params(run, ctxs), config), ctxs, PARAMS, note)


def load_params(run, ctxs):
    """`run`'s net on `ctxs` with model.params."""
    net = build_net(run.config, ctxs)
    try:
        net.load_parameters(run.file(PARAMS), ctx=ctxs)
    except (AssertionError, ValueError, mx.base.MXNetError) as err:
        raise UsageError(f"{run.file(PARAMS)} does not fit model {run.config.model} "
                         f"({reason(err)}); the run folder is inconsistent") from None
    return net


def inference_net(run, ctx=None):
    """`run`'s published model (model.params) on one device (default: CPU), compiled
    as the run compiled it."""
    return _compile(load_params(run, [ctx or mx.cpu()]), run.config)


def describe(run):
    """'cifar_resnet20_v1, 3 epochs, aug flip': the run in a few words, for titles."""
    epochs = len(run.metrics['epochs'])
    aug = run.config.aug or "the recipe's"   # None: the fast recipe's flips and shifts
    return f"{run.config.model}, {epochs} epoch{'s' * (epochs != 1)}, aug {aug}"
