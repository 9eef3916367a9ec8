"""The chapter's exercise 1 at full scale: train with and without augmentation, compare.

    python scripts/exercise1_full.py --data ../data/cifar10-lossless

(that folder made by ``python ../shared/data/cifar10-lossless/unpack.py ../data/cifar10-lossless``)

Four runs of the fast recipe (about 30 minutes each on an idle 2-core
AVX-512 machine) on all 50,000 training images: the full recipe, and the
recipe without its augmentation (``--without alt-flip translate``: no flips,
no shifts), seeds 0 and 1 each. Runs go in the order that finishes a pair
first (both arms at seed 0, then seed 1); each checkpoints every 50 batches,
so when the command is stopped, running it again continues the unfinished
run with --resume and skips the finished ones. Whatever has finished is then
reported in docs/REPRODUCTION.md's exercise-1 section: final train and test
accuracy and their gap per run and per arm (mean over seeds), and one plot
of both arms' train and test curves (docs/reproduction/exercise1.png), with
the runs' metrics in docs/reproduction/exercise1.json.

    python scripts/exercise1_full.py --report-only      # only the report
"""
import os
import sys

import benchlib
from armruns import (ArmRuns, final_accuracies, finish_report, mean, print_report,
                     write_report)

ROOT = benchlib.ROOT
PROG = 'scripts/exercise1_full.py'
DOCS = os.path.join(ROOT, 'docs')
REPORT = os.path.join(DOCS, 'REPRODUCTION.md')
FIGURE = os.path.join(DOCS, 'reproduction', 'exercise1.png')
RECORD = os.path.join(DOCS, 'reproduction', 'exercise1.json')
# arm -> the flags that make it; the recipe's augmentation is its alternating flip
# and its random translation by up to 2 pixels
ARMS = {'augmented': [], 'not augmented': ['--without', 'alt-flip', 'translate']}
SEEDS = (0, 1)
EVERY = 50
TEST_IMAGES = 2000   # ../shared's test set


def grid(runs):
    return ArmRuns(runs, ARMS, SEEDS, ['--recipe', 'fast'], EVERY)


def plan(runs):
    """[(arm, seed, run folder)] in the order they train: a pair per seed."""
    return grid(runs).plan()


def train_command(data, arm, seed, run):
    return grid(os.path.dirname(run)).command(data, arm, seed, run)


def collect(runs):
    """{arm: {seed: summary}} of the finished runs."""
    return grid(runs).collect(final_accuracies)


def table(results):
    lines = ['| arm | seed | train acc | test acc | train - test gap | load at its end |',
             '|---|---|---|---|---|---|']
    for arm, by_seed in results.items():
        for seed, r in sorted(by_seed.items()):
            load = '' if r.get('load') is None else f"{r['load']:.1f}"
            lines.append(f"| {arm} | {seed} | {r['train_acc']:.3f} | {r['test_acc']:.3f} | "
                         f"{r['gap']:+.3f} | {load} |")
        if len(by_seed) > 1:
            rs = list(by_seed.values())
            lines.append(f"| **{arm}, mean** | {len(rs)} seeds | "
                         f"{mean([r['train_acc'] for r in rs]):.3f} | "
                         f"{mean([r['test_acc'] for r in rs]):.3f} | "
                         f"**{mean([r['gap'] for r in rs]):+.3f}** | |")
    return '\n'.join(lines)


def plot(results, path):
    """Train (dashed) and test (solid) accuracy per epoch, one colour per arm, one line per seed."""
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for colour, (arm, by_seed) in zip(('C0', 'C1'), results.items()):
        for k, (seed, r) in enumerate(sorted(by_seed.items())):
            x = [e['epoch'] for e in r['epochs']]
            ax.plot(x, [e['train_acc'] for e in r['epochs']], '--', color=colour,
                    label=f'{arm}: train' if k == 0 else None)
            ax.plot(x, [e['test_acc'] for e in r['epochs']], '-', color=colour,
                    label=f'{arm}: test' if k == 0 else None)
    ax.set_xlabel('epoch')
    ax.set_ylabel('accuracy')
    ax.grid(True)
    ax.legend()
    ax.set_title('fast recipe on all 50,000 images, one line per seed', fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def verdict(results):
    """One honest sentence on the chapter's claim, from the seeds both arms finished."""
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in results.values())))
    if len(results) < 2 or not seeds:
        return "No seed has finished in both arms yet: no comparison."
    gaps = {arm: mean([by_seed[s]['gap'] for s in seeds]) for arm, by_seed in results.items()}
    tests = {arm: mean([by_seed[s]['test_acc'] for s in seeds])
             for arm, by_seed in results.items()}
    a, n = gaps['augmented'], gaps['not augmented']
    se = (tests['augmented'] * (1 - tests['augmented']) / TEST_IMAGES) ** 0.5
    return (f"Over the seed(s) both arms finished ({', '.join(map(str, seeds))}), augmentation "
            f"{'narrows' if a < n else 'does not narrow'} the gap between train and test "
            f"accuracy: {a:+.3f} with it against {n:+.3f} without, and moves test accuracy from "
            f"{tests['not augmented']:.3f} to {tests['augmented']:.3f}. Train accuracy is the "
            "running accuracy over each epoch's (augmented) batches, as the book measures it. "
            f"With {TEST_IMAGES:,} test images, a test accuracy of {tests['augmented']:.2f} has "
            f"a standard error of about {100 * se:.1f} points; {difference(tests, len(seeds))}")


def difference(tests, seeds):
    """Whether the arms' mean test accuracies differ beyond sampling noise: the
    difference against its binomial standard error (each arm `seeds` runs of
    TEST_IMAGES images)."""
    diff = tests['augmented'] - tests['not augmented']
    se = sum(p * (1 - p) / (TEST_IMAGES * seeds) for p in tests.values()) ** 0.5
    within = abs(diff) <= 2 * se
    return (f"the arms' test accuracies differ by {100 * diff:+.1f} points against a "
            f"standard error of about {100 * se:.1f} points for that difference: "
            f"{'within the noise' if within else 'more than twice it'}.")


def pixels(results):
    """What pixels the runs read: one kind, or each kind with its runs."""
    kinds = {}
    for arm, by_seed in results.items():
        for seed, r in sorted(by_seed.items()):
            kinds.setdefault(benchlib.pixel_name(r.get('data')), []).append(f'{arm} {seed}')
    if len(kinds) == 1:
        return next(iter(kinds))
    return '; '.join(f"{name} ({', '.join(runs)})" for name, runs in kinds.items())


def report(runs, write=True):
    results = collect(runs)
    if not results:
        return None
    missing = grid(runs).missing()
    md = ['## Exercise 1 at full scale: with and without augmentation', '',
          "The chapter's exercise 1 asks to train without augmentation and compare; the chapter "
          "claims that augmentation narrows the gap between training and test accuracy. Here "
          "with the fast recipe (fastnet, 10 epochs; `python -m train.cifar --recipe fast`) on "
          "all 50,000 training images, tested on the 2,000 test images: the full recipe "
          "against `--without alt-flip translate` (no flips, no shifts), seeds 0 and 1. "
          f"Written by `python {PROG}`. The images: {pixels(results)}. The last column is the "
          "machine's 1-minute load average as each run ended; accuracy does not depend on it "
          "(the runs are seeded), only speed would.", '', table(results), '',
          verdict(results), '',
          '![train (dashed) and test (solid) accuracy, both arms](reproduction/exercise1.png)',
          '']
    text = finish_report(md, missing)
    if write:
        plot(results, FIGURE)
        write_report(text, results, RECORD, 'exercise-1', REPORT, '')
    return text


def get_args_parser():
    p = benchlib.full_scale_parser(PROG, __doc__, '--runs', 'runs/exercise1',
                                   'folder for the four runs',
                                   'train nothing, report what has finished')
    return p


def main(argv=None):
    from train import cli
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.configure_threads()
    cli.import_library(PROG)
    if not args.report_only:
        p.check('--data', args.data, benchlib.full_cifar_folder)
        status = grid(args.runs).train(args.data)
        if status:
            return status
    text = report(args.runs, write=not args.no_write)
    return print_report(PROG, text, args.runs, '(and with --data) ')


if __name__ == '__main__':
    sys.exit(main())
