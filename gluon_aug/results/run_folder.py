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
from ..models.precision import compute_in
from ..models.zoo import get_model
from ..run.checkpoint import load_net_arrays
from ..run.checkpoint_file import FILENAME as CHECKPOINT
from ..run.checkpoint_file import read_checkpoint
from ..run.config import check_config, config_fields, RunConfig
from ..run.recipes import OVERRIDABLE, recipe_of

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
    return (metrics.get('versions') or {}).get('gluon_aug', 'an unknown version')


def _read_metrics(path):
    try:
        with open(os.path.join(path, METRICS)) as f:
            metrics = json.load(f)
        if not isinstance(metrics, dict) or not isinstance(metrics.get('config'), dict):
            raise ValueError("no 'config' section")
    except (OSError, ValueError, RecursionError) as err:
        raise UsageError(f"{path!r} is not a gluon_aug run: its {METRICS} is unreadable "
                         f"({type(err).__name__}: {err}); pass the --out folder of a "
                         "python -m train.cifar run") from None
    return metrics


def config_of(path, metrics):
    """The ``RunConfig`` recorded in `metrics` (metrics.json); UsageError when the
    run was made by a gluon_aug whose settings differ from this one's."""
    recorded, known = metrics['config'], {f.name for f in config_fields()}
    unknown, missing = sorted(set(recorded) - known), sorted(known - set(recorded))
    if unknown or missing:
        what = '; '.join(part for part in (
            unknown and f"settings this version does not know: {', '.join(unknown)}",
            missing and f"no value for: {', '.join(missing)}") if part)
        raise UsageError(f"{path!r} was made by gluon_aug {made_by(metrics)}, whose "
                         f"configuration does not fit gluon_aug {__version__} ({what}); use "
                         "the gluon_aug version that made the run")
    bad = next((f.name for f in config_fields() if not _fits(recorded[f.name], f)), None)
    try:
        if bad:
            raise UsageError(f"{bad} is {recorded[bad]!r}")
        config = RunConfig(**dict(recorded, without=tuple(recorded['without'])))
        # choices and ranges as a run checks them (not the dist_* job's variables,
        # which belong to the run's processes, nor --resume)
        check_config(dataclasses.replace(config, kvstore='device', resume=None))
        missing = [name for name in OVERRIDABLE if getattr(config, name) is None]
        if missing:   # a run records its recipe's values
            raise UsageError(f"no value for {', '.join(missing)}")
    except UsageError as err:
        raise UsageError(f"{path!r}: its {METRICS} holds a configuration no run makes ({err}); "
                         "pass the --out folder of a finished python -m train.cifar run") from None
    return config


def _fits(value, field):
    """`value` (read from JSON) has the type of RunConfig `field`, or is None where the
    field's default is None."""
    if value is None:
        return field.default is None
    kind = field.type
    if kind is tuple:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is float:
        return type(value) in (int, float)
    return type(value) is kind   # bool is not int here, nor a string "false" a bool


def open_run(path):
    """The finished run in folder `path`, or UsageError saying why it cannot be used."""
    if not os.path.isdir(path):
        raise UsageError(f"run folder {path!r} does not exist; pass the --out folder of a "
                         "python -m train.cifar run")
    has_metrics = os.path.isfile(os.path.join(path, METRICS))
    metrics = _read_metrics(path) if has_metrics else None
    if not os.path.isfile(os.path.join(path, PARAMS)):
        resumable = os.path.isfile(os.path.join(path, CHECKPOINT))
        raise UsageError(f"{path!r} holds no {PARAMS}: the run did not finish; " + (
            f"continue it with python -m train.cifar <its flags> --resume {path}" if resumable
            else "pass the --out folder of a finished python -m train.cifar run"))
    if metrics is None:
        raise UsageError(f"{path!r} holds no {METRICS}: the run did not finish writing its "
                         "results; train it again")
    return TrainedRun(path, config_of(path, metrics), metrics)


# -- the net ----------------------------------------------------------------------------

def recorded_devices(run):
    """[(kind, index)] of the devices the run trained on (metrics.json run.devices)."""
    return [(kind, int(i)) for kind, i in re.findall(
        r'(cpu|gpu)\((\d+)\)', (run.metrics.get('run') or {}).get('devices', ''))]


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
    net.initialize(init=init.Xavier(), ctx=ctxs)
    net(np.zeros((1, 3, 32, 32), ctx=ctxs[0]))   # completes the deferred initialization
    return net


def _compile(net, config):
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
    done = len(run.metrics.get('epochs', []))
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
    epochs = len(run.metrics.get('epochs', []))
    aug = run.config.aug or "the recipe's"   # None: the fast recipe's flips and shifts
    return f"{run.config.model}, {epochs} epoch{'s' * (epochs != 1)}, aug {aug}"
