"""What a run leaves behind: its metrics record, its facts, its files.

``metrics_record`` builds ``metrics.json`` for both modes from the settled
``Settings``, the facts of where it ran (``run_facts``) and the per-epoch
history; ``write_outputs`` writes it, ``curves.png`` and ``model.params``,
each atomically (``files.atomic_path``). metrics.json names the run (``run.run_id``,
which its checkpoint holds too) and the model.params it belongs to (``files``: size
and SHA-1), so a reader can tell a folder whose files come from two runs.
"""
import dataclasses
import os

from ..data.cifar import sha1_of
from ..files import atomic_path, mxnet_path, write_json
from .distributed import worker_seed
from .loop import examples_per_sec
from .outputs import command_line, cpu_description, library_versions, new_run_id


def file_fingerprint(path):
    """[size, SHA-1] of a file, as metrics.json records its model.params."""
    return [os.path.getsize(path), sha1_of(path)]


def run_facts(ctxs, rank=0, workers=1, config=None, run_id=None):
    """Where and how this process ran (metrics.json's ``run``); `run_id`: the
    run's (default: a new one)."""
    facts = {'run_id': run_id or new_run_id(), 'command': command_line(), 'devices': str(ctxs),
             'cpu': cpu_description(),
             'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
             # set by train/amx.py when AMX was switched on for --dtype bfloat16
             'dnnl_max_cpu_isa': os.environ.get('DNNL_MAX_CPU_ISA')}
    if workers > 1:
        facts.update(workers=workers, rank=rank, global_batch_size=config.batch_size * workers,
                     worker_seed=worker_seed(config.seed, rank, workers))
    return facts


def process_age():
    """Seconds since this process started (Linux), or None."""
    try:
        with open('/proc/self/stat') as f:
            started = int(f.read().rsplit(')', 1)[1].split()[19])   # field 22: starttime
        with open('/proc/uptime') as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - started / os.sysconf('SC_CLK_TCK')


def phase_totals(history, startup=None):
    """Where the run's seconds went: the epochs' phases (``loop.PHASES``) summed,
    and `startup`, this process's seconds before training (imports, data checks)."""
    totals = {'startup': startup}
    for record in history:
        for name, seconds in record.get('phase_seconds', {}).items():
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def metrics_record(settings, facts, history, wall_seconds, examples_sec=None, startup=None):
    """metrics.json: the configuration and recipe, where it ran, the epochs, the
    final figures. `examples_sec`: the book's figure (default: from `history`);
    `startup`: seconds of this process before training."""
    last = history[-1]
    return {'config': dataclasses.asdict(settings.config),
            'recipe': {'name': settings.recipe.name, 'without': list(settings.config.without),
                       'overrides': settings.overrides,
                       'ingredients': dataclasses.asdict(settings.recipe)},
            'run': facts, 'versions': library_versions(), 'epochs': history,
            'final': {'train_loss': last['train_loss'], 'train_acc': last['train_acc'],
                      'test_acc': last['test_acc'],
                      # the book's figure: examples / timed step seconds
                      'examples_per_sec': (examples_per_sec(history) if examples_sec is None
                                           else examples_sec),
                      # 1/5/15-minute load: timings are only comparable on an idle machine
                      'load_average': list(os.getloadavg()),
                      'wall_seconds': wall_seconds,
                      'phase_seconds': phase_totals(history, startup)}}


def write_outputs(out, metrics, animator, net):
    """model.params, metrics.json (recording the model.params it belongs to, in
    ``metrics['files']``) and curves.png in `out`, each written atomically."""
    params = os.path.join(out, 'model.params')
    hint = ('; the last checkpoint is kept: free space, then python -m train.cifar --resume '
            f'{out} writes the results' if os.path.exists(os.path.join(out, 'checkpoint.npz'))
            else '; free space, then train again')
    with mxnet_path(params, hint) as tmp:
        net.save_parameters(tmp)
    metrics['files'] = {'model.params': file_fingerprint(params)}
    write_json(os.path.join(out, 'metrics.json'), metrics, hint)
    with atomic_path(os.path.join(out, 'curves.png'), hint) as tmp:
        animator.savefig(tmp, fit_y=True)
