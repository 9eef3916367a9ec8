"""The chapter's exercise 2 answered: each augmentation policy against flip and flip-crop.

    python scripts/policy_table.py --data ../shared/data/cifar10-subset

For every arm (flip, flip-crop, autoaugment, randaugment, trivialaugment,
augmix, and flip-crop with MixUp or CutMix at alpha 1) and seeds 0 and 1, the fast recipe's 10 epochs on the subset with
that preset per sample (``python -m train.cifar --recipe fast --aug ARM
--seed S``: the preset replaces the recipe's own flips and shifts), about 8
minutes a run on an idle 2-core machine, checkpointed: a rerun continues the
unfinished run and skips the finished ones (flip and flip-crop train first,
then the policies, then MixUp and CutMix, a seed at a time). Then each preset's augmentation speed
in both backends, measured side by side: per sample (the fast recipe's
``ArrayLoader`` with the preset, seeding every example, one process) and
batched (``get_batch_preset``, hybridized, on batches of 250 already in
memory). Writes docs/POLICIES.md (the table, the verdict, the machine),
docs/policies/policies.png (test accuracy and train-test gap per arm, one
point per seed) and docs/policies/policies.json.

    python scripts/policy_table.py --report-only    # only the report, from what has finished
"""
import os
import sys

import benchlib
from armruns import (ArmRuns, final_accuracies, finish_report, mean, print_report,
                     write_report)

PROG = 'scripts/policy_table.py'
DOCS = os.path.join(benchlib.ROOT, 'docs')
REPORT = os.path.join(DOCS, 'POLICIES.md')
FIGURE = os.path.join(DOCS, 'policies', 'policies.png')
RECORD = os.path.join(DOCS, 'policies', 'policies.json')
BASELINES = ('flip', 'flip-crop')
POLICIES = ('autoaugment', 'randaugment', 'trivialaugment', 'augmix')
# batch-level methods, on top of flip-crop, at the alpha their papers used for CIFAR
MIXES = {'mixup': ['--mixup', '1'], 'cutmix': ['--cutmix', '1']}
SEEDS = (0, 1)
EVERY = 20
TEST_IMAGES = 2000   # ../shared's test set
BATCH = 250          # the fast recipe's batch size
HEAD = '# Augmentation policies, measured\n'


def grid(runs):
    arms = {arm: ['--aug', arm] for arm in BASELINES + POLICIES}
    arms.update({arm: ['--aug', 'flip-crop', *flags] for arm, flags in MIXES.items()})
    return ArmRuns(runs, arms, SEEDS, ['--recipe', 'fast'], EVERY)


def loader_speed(data, names, images=1000, repeats=3):
    """{name: (per-sample images/s, batched images/s)}: medians over `repeats` epochs of
    `images` training images."""
    from gluon_aug._mxnet import mx, np
    from gluon_aug.augment.batch.presets import get_batch_preset
    from gluon_aug.augment.presets import get_preset
    from gluon_aug.data.loaders import ArrayLoader
    out = {}
    for name in names:
        loader = ArrayLoader(True, BATCH, data, seed=0, flip=None, translate=0, limit=images,
                             sample_augs=get_preset(name))

        def per_sample():
            for x, _ in loader:
                x.wait_to_read()
        batch_aug = get_batch_preset(name)
        batch_aug.hybridize(static_alloc=True, static_shape=True)   # as run_cifar does
        x = np.array(loader.images.transpose(0, 3, 1, 2) / 255.0, dtype='float32')

        def batched():
            for i in range(0, len(x), BATCH):
                batch_aug(x[i:i + BATCH]).wait_to_read()
        mx.random.seed(0)
        out[name] = tuple(len(x) / benchlib.median_time(fn, repeats)
                          for fn in (per_sample, batched))
    return out


def table(results, speed):
    lines = ['| arm | seeds | test acc (per seed) | train acc | train - test gap | '
             'run examples/s | augmentation images/s: per sample | batched |',
             '|---|---|---|---|---|---|---|---|']
    for arm, by_seed in results.items():
        rs = [by_seed[s] for s in sorted(by_seed)]
        each = ', '.join(f"{r['test_acc']:.3f}" for r in rs)
        per, batched = speed.get(arm, (None, None))
        shown = (f'{per:,.0f} | {batched:,.0f}' if per else
                 'in the step | in the step' if arm in MIXES else 'not measured | not measured')
        lines.append(f"| `{arm}` | {len(rs)} | **{mean([r['test_acc'] for r in rs]):.3f}** "
                     f"({each}) | {mean([r['train_acc'] for r in rs]):.3f} | "
                     f"{mean([r['gap'] for r in rs]):+.3f} | "
                     f"{mean([r['examples_per_sec'] for r in rs]):.0f} | {shown} |")
    return '\n'.join(lines)


def verdict(results):
    """Which policies beat the better baseline, by how much, against the noise."""
    means = {arm: mean([r['test_acc'] for r in by_seed.values()])
             for arm, by_seed in results.items()}
    bases = [a for a in BASELINES if a in means]
    if not bases or not any(p in means for p in POLICIES + tuple(MIXES)):
        return 'Not enough runs have finished for a verdict.'
    best = max(bases, key=means.get)
    p = means[best]
    se = 100 * (2 * p * (1 - p) / TEST_IMAGES) ** 0.5
    lines = [f"The better baseline is `{best}` at {p:.3f}. A difference between two single "
             f"runs near that accuracy has a standard error of about {se:.1f} points from the "
             f"{TEST_IMAGES:,} test images alone (seeds add their own spread), so differences "
             f"under ~{2 * se:.0f} points are not told apart here."]
    for arm in POLICIES + tuple(MIXES):
        if arm in means:
            d = 100 * (means[arm] - p)
            word = ('helps' if d > 2 * se else 'hurts' if d < -2 * se else
                    'is indistinguishable from it')
            lines.append(f"- `{arm}` {word}: {d:+.1f} points against `{best}`, train-test "
                         f"gap {mean([r['gap'] for r in results[arm].values()]):+.3f}.")
    return '\n'.join(lines)


def conditions(results):
    """What the runs were made with: gluon_aug's version (before 0.2.1, fast-recipe
    runs carried the oneDNN layout race's last-bit noise) and the load at their end."""
    runs = [r for by_seed in results.values() for r in by_seed.values()]
    versions = sorted({r['version'] for r in runs if r.get('version')},
                      key=lambda v: tuple(int(p) for p in v.split('.')))
    loads = [r['load'] for r in runs if r.get('load') is not None]
    lines = []
    if versions:
        line = f"The runs were made with gluon_aug {', '.join(versions)}"
        if tuple(int(p) for p in versions[0].split('.')) < (0, 2, 1):
            line += (", which includes runs from before 0.2.1, which fixed the oneDNN layout race that left "
                     "fast-recipe runs on one device unrepeatable in their last bits (docs/RUNS.md, "
                     "*An MXNet race we work around*); that noise is far below the seed spread")
        lines.append(line + '.')
    if loads:
        lines.append(f"One-minute load average at the runs' ends: {min(loads):.1f} to "
                     f"{max(loads):.1f} on 2 cores (other work shared the CPU during some "
                     "runs: their examples/s are not benchmarks).")
    return ' '.join(lines)


def plot(results, path):
    from matplotlib import pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    arms = list(results)
    for ax, key, label in zip(axes, ('test_acc', 'gap'), ('test accuracy', 'train - test gap')):
        for k, arm in enumerate(arms):
            values = [r[key] for r in results[arm].values()]
            ax.plot([k] * len(values), values, 'o', color='C0' if arm in BASELINES else 'C1',
                    alpha=0.6)
            ax.plot([k - 0.25, k + 0.25], [mean(values)] * 2, '-', color='k')
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels(arms, rotation=30, ha='right', fontsize=8)
        ax.set_ylabel(label)
        ax.grid(True, axis='y')
    fig.suptitle('fast recipe, 10 epochs on the 10,000-image subset; one point per seed, '
                 'a bar at the mean', fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(runs, speed, write=True):
    results = grid(runs).collect(final_accuracies)
    if not results:
        return None
    missing = grid(runs).missing()
    md = ['## Exercise 2: augmentation policies against flip and flip-crop', '',
          "The chapter's exercise 2 asks to combine augmentation methods and to look for "
          "others. Each arm here trains the fast recipe (fastnet, 10 epochs, batch 250; "
          "`python -m train.cifar --recipe fast --aug ARM --seed S`) on the 10,000-image "
          "subset with that preset per sample in place of the recipe's own flips and "
          "shifts (`mixup` and `cutmix`: flip-crop, then `--mixup 1` or `--cutmix 1` in the "
          "step), and tests on the 2,000 test images. Train accuracy is the running "
          "accuracy over each epoch's augmented batches. Augmentation speed: per sample, "
          "the recipe's loader with the preset (one process, every example seeded); "
          f"batched, the preset's twin hybridized on batches of {BATCH} in memory "
          "(`--aug-backend batch`); both on this CPU, which also trains. "
          f"Written by `python {PROG}`.", '', table(results, speed), '', verdict(results), '',
          conditions(results), '',
          '![test accuracy and gap per arm](policies/policies.png)', '']
    text = finish_report(md, missing)
    if write:
        plot(results, FIGURE)
        write_report(text, {'results': results, 'speed': speed}, RECORD, 'exercise-2', REPORT, HEAD)
    return text


def get_args_parser():
    p = benchlib.full_scale_parser(PROG, __doc__, '--runs', 'runs/policies',
                                   'folder for the runs',
                                   'train and measure nothing, report what has finished',
                                   data_help='the CIFAR-10 subset (default: '
                                             '../shared/data/cifar10-subset)')
    p.set_defaults(data=os.path.join('..', 'shared', 'data', 'cifar10-subset'))
    return p


def main(argv=None):
    from train import cli
    p = get_args_parser()
    args = p.parse_args(argv)
    args.data = os.path.abspath(args.data)   # the runs start in the repository
    cli.configure_threads()
    cli.import_library(PROG)
    speed = {}
    if os.path.exists(RECORD):
        speed = {k: tuple(v) for k, v in benchlib.read_json(RECORD).get('speed', {}).items()}
    if not args.report_only:
        p.check('--data', args.data, benchlib.cifar_folder)
        status = grid(args.runs).train(args.data)
        if status:
            return status
        speed = loader_speed(args.data, BASELINES + POLICIES)
    text = report(args.runs, speed, write=not args.no_write)
    return print_report(PROG, text, args.runs, '')


if __name__ == '__main__':
    sys.exit(main())
