"""What a run leaves behind: its metrics record, its facts, its files.

``metrics_record`` builds ``metrics.json`` for both modes from the settled
``Settings``, the facts of where it ran (``run_facts``) and the per-epoch
history; ``write_outputs`` writes it, ``curves.png`` and ``model.params``,
each atomically (``files.atomic_path``).
"""
import dataclasses
import os

from ..files import atomic_path, write_json
from .distributed import worker_seed
from .loop import examples_per_sec
from .outputs import command_line, library_versions


def run_facts(ctxs, rank=0, workers=1, config=None):
    """Where and how this process ran (metrics.json's ``run``)."""
    facts = {'command': command_line(), 'devices': str(ctxs),
             'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
             # set by train/amx.py when AMX was switched on for --dtype bfloat16
             'dnnl_max_cpu_isa': os.environ.get('DNNL_MAX_CPU_ISA')}
    if workers > 1:
        facts.update(workers=workers, rank=rank, global_batch_size=config.batch_size * workers,
                     worker_seed=worker_seed(config.seed, rank, workers))
    return facts


def metrics_record(settings, facts, history, wall_seconds, examples_sec=None):
    """metrics.json: the configuration and recipe, where it ran, the epochs, the
    final figures. `examples_sec`: the book's figure (default: from `history`)."""
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
                      'wall_seconds': wall_seconds}}


def write_outputs(out, metrics, animator, net):
    """model.params, metrics.json and curves.png in `out`, each written atomically."""
    with atomic_path(os.path.join(out, 'model.params')) as tmp:
        net.save_parameters(tmp)
    write_json(os.path.join(out, 'metrics.json'), metrics)
    with atomic_path(os.path.join(out, 'curves.png')) as tmp:
        animator.savefig(tmp, fit_y=True)
