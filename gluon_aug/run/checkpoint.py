"""One checkpoint file holding everything a run needs to continue exactly.

``checkpoint.npz`` in the run's ``--out`` folder is a NumPy archive read with
``allow_pickle=False``, so loading it never runs code (pickle, and MXNet's
``Trainer.load_states``, would run whatever a crafted file holds). It holds

- ``param/J/D``: parameter J's value on device D (``save_parameters`` would
  average the devices' copies, and BatchNorm's running statistics differ per
  device in split-batch training);
- ``opt/D/I/...``: the optimizer state arrays of parameter I on device D
  (Adam's mean and variance, SGD's momentum), one per leaf of the state;
- ``extra/NAME/...``: arrays of other stateful parts (weight averages, ...);
- ``state``: UTF-8 JSON as bytes: format version, the position (epoch, batch,
  the epoch's running sums), the history, the configuration, the data files'
  sizes and SHA-1, the optimizer's update counts and scalar hyperparameters,
  and the JSON part of the stateful parts.

Writing and reading the file is ``checkpoint_file``'s. Restoring takes only
state from it (arrays, positions, update counts): the hyperparameters (learning
rate, momentum, ...) are the run's configuration's. Only the latest is kept
(d2l ResNet-18 with Adam: ~135 MB). RNG state needs no saving:
the loader's randomness is a function of (seed, epoch, position) (see
data/sampling.py) and the training step draws none.
"""
from .._mxnet import mx
from ..errors import reason, UsageError
from .checkpoint_file import save_checkpoint
from .loop import Callback, Position

_SCALARS = (bool, int, float, str, type(None))
# the optimizer's scalars that are state; the others are hyperparameters, which
# the run's configuration sets (a checkpoint's are never trusted)
STATE_SCALARS = ('num_update', 'begin_num_update')


# -- arrays of the net and the optimizer ------------------------------------------------

def _array(value):
    return value.asnumpy()


def _set(data, value):
    # copyto, not data[:] = ...: it also writes arrays in oneDNN's layout
    array = mx.np.array if isinstance(data, mx.np.ndarray) else mx.nd.array
    array(value, dtype=data.dtype).copyto(data)


def net_arrays(net):
    """Every parameter on every device, exactly: {'param/J/D': array}."""
    # keyed by position, not name: Gluon's name prefixes count instances per process
    return {f'param/{j}/{d}': _array(data)
            for j, p in enumerate(net.collect_params().values())
            for d, data in enumerate(p.list_data())}


def load_net_arrays(net, arrays):
    """Inverse of ``net_arrays`` on a net initialized on the same devices."""
    params = list(net.collect_params().values())
    want = sum(len(p.list_data()) for p in params)
    have = sum(1 for k in arrays if k.startswith('param/'))
    if have != want:
        raise ValueError(f'it holds {have} parameter arrays, the model has {want}')
    for j, p in enumerate(params):
        for d, data in enumerate(p.list_data()):
            value = arrays[f'param/{j}/{d}']
            if value.shape != data.shape:
                raise ValueError(f'parameter {p.name}: checkpoint shape {value.shape}, '
                                 f'model shape {data.shape}')
            _set(data, value)


def _flatten(state, key, arrays):
    """A JSON tree of an optimizer state (None, an array, or tuples of them)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return {'seq': [_flatten(s, f'{key}/{k}', arrays) for k, s in enumerate(state)],
                'tuple': isinstance(state, tuple)}
    arrays[key] = _array(state)
    return {'array': key, 'np': isinstance(state, mx.np.ndarray)}


def _unflatten(tree, arrays):
    if tree is None:
        return None
    if 'seq' in tree:
        items = [_unflatten(t, arrays) for t in tree['seq']]
        return tuple(items) if tree['tuple'] else items
    value = arrays[tree['array']]
    array = mx.np.array if tree['np'] else mx.nd.array
    return array(value, dtype=value.dtype)   # the Updater moves it to its weight's device


def init_trainer(trainer):
    """What ``Trainer`` does before its first update, done now (MXNet has no public
    call for it): create the kvstore and, with several devices, copy device 0's
    values into it and to every device."""
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    if trainer._params_to_init:
        trainer._init_params()


def updaters(trainer):
    """The ``Updater`` objects that hold the optimizer state: one per device, or
    the local kvstore's one when it updates (MXNet's default with several
    devices). A distributed kvstore keeps it on its servers, out of reach."""
    init_trainer(trainer)
    if not trainer._update_on_kvstore:
        return trainer._updaters
    updater = getattr(trainer._kvstore, '_updater', None)
    if updater is None:
        raise ValueError('the optimizer state lives on the kvstore servers, which MXNet '
                         'cannot read back')
    return [updater]


def _positions(trainer, net):
    """Trainer index -> the parameter's position in ``net.collect_params()``. The
    Trainer orders parameters by name, and Gluon's names count the blocks made
    so far in the process: the same net built again may sort differently."""
    where = {id(p): j for j, p in enumerate(net.collect_params().values())}
    return {i: where[id(p)] for i, p in enumerate(trainer._params)}


def trainer_state(trainer, net):
    """(JSON, arrays) of the optimizer: states per updater (keyed by the
    parameter's position in `net`), update counts, scalars."""
    arrays, pos = {}, _positions(trainer, net)
    trees = [{str(pos[i]): _flatten(s, f'opt/{d}/{pos[i]}', arrays)
              for i, s in upd.states.items()}
             for d, upd in enumerate(updaters(trainer))]
    opt = trainer._optimizer
    meta = {'type': type(opt).__name__.lower(), 'states': trees,
            'scalars': {k: v for k, v in vars(opt).items() if isinstance(v, _SCALARS)},
            'counts': {str(dev): {str(pos[i]): n for i, n in counts.items()}
                       for dev, counts in opt._all_index_update_counts.items()}}
    return meta, arrays


def load_trainer_state(trainer, net, meta, arrays):
    """Inverse of ``trainer_state`` on a Trainer over the same parameters and devices."""
    index = {j: i for i, j in _positions(trainer, net).items()}
    opt = trainer._optimizer
    if meta['type'] != type(opt).__name__.lower():
        raise ValueError(f"it holds {meta['type']} state, this run uses "
                         f"{type(opt).__name__.lower()}")
    targets = updaters(trainer)
    if len(meta['states']) != len(targets):
        raise ValueError(f"it holds {len(meta['states'])} optimizer states per parameter, "
                         f"this run {len(targets)}")
    for upd, trees in zip(targets, meta['states']):
        upd.states = {index[int(j)]: _unflatten(t, arrays) for j, t in trees.items()}
        upd.states_synced = dict.fromkeys(upd.states, False)
    for k in STATE_SCALARS:
        setattr(opt, k, meta['scalars'][k])
    opt._all_index_update_counts = {int(dev): {index[int(j)]: n for j, n in counts.items()}
                                    for dev, counts in meta['counts'].items()}
    opt._index_update_count = opt._all_index_update_counts.setdefault(0, {})


class Checkpointer(Callback):
    """Saves the run after every epoch (and every `every` batches); restores it.

    `info` (a JSON-able dict: the configuration, the data's fingerprint...)
    is saved as it is; `parts` maps a name to an object with ``state_dict()
    -> (json, arrays)`` and ``load_state_dict(json, arrays)`` (the curves,
    a weight average...), saved and restored with the run.
    """

    def __init__(self, out, net, trainer, info, every=None, parts=None):
        self.out, self.net, self.trainer, self.info = out, net, trainer, info
        self.every, self.parts, self.history = every, dict(parts or {}), []

    def save(self, position):
        trainer_meta, arrays = trainer_state(self.trainer, self.net)
        arrays.update(net_arrays(self.net))
        parts = {}
        for name, part in self.parts.items():
            meta, part_arrays = part.state_dict()
            parts[name] = meta
            arrays.update({f'extra/{name}/{k}': v for k, v in part_arrays.items()})
        save_checkpoint(self.out, {
            'info': self.info, 'epoch': position.epoch, 'batch': position.batch,
            'sums': position.sums, 'history': self.history, 'trainer': trainer_meta,
            'parts': parts}, arrays)

    def restore(self, state, arrays):
        """Load a checkpoint read by ``load_checkpoint``; return its ``Position``."""
        try:
            load_net_arrays(self.net, arrays)
            # the kvstore takes its copy of the weights from device 0 here, and sends
            # it to every device: the per-device values (BatchNorm's statistics) go
            # back after it
            init_trainer(self.trainer)
            load_net_arrays(self.net, arrays)
            load_trainer_state(self.trainer, self.net, state['trainer'], arrays)
            for name, part in self.parts.items():
                prefix = f'extra/{name}/'
                part.load_state_dict(state['parts'][name],
                                     {k[len(prefix):]: v for k, v in arrays.items()
                                      if k.startswith(prefix)})
        except (KeyError, ValueError, TypeError) as err:
            raise UsageError(f"the checkpoint in {self.out!r} does not fit this run "
                             f"({type(err).__name__}: {reason(err)}); resume with the settings "
                             "that wrote it, or start a new --out") from None
        self.history[:] = state['history']
        return Position(state['epoch'], state['batch'], state['sums'])

    def on_batch_end(self, epoch, batch, sums):
        if self.every and batch % self.every == 0:
            self.save(Position(epoch, batch, sums))

    def on_epoch_end(self, record):
        self.history.append(record)
        self.save(Position(record['epoch']))
