"""Shared by the experiment scripts: a grid of runs, one per arm and seed, of
``python -m train.cifar`` with the flags that make the arm.

Runs go in the order that finishes a comparison first (every arm at the first
seed, then the next seed); each checkpoints, so when the command is stopped,
running it again continues the unfinished run with --resume (given the same
settings, which --resume checks) and skips the finished ones.
"""
import json
import os
import subprocess
import sys

import benchlib


class ArmRuns:
    """`arms`: {arm: [flags]}; `flags`: the flags every run shares; `seeds`; `every`:
    --checkpoint-every; `runs`: the folder of the run folders (<arm>-seed<seed>)."""

    def __init__(self, runs, arms, seeds, flags, every):
        self.runs, self.arms, self.seeds, self.flags, self.every = runs, arms, seeds, flags, every

    def folder(self, arm, seed):
        return os.path.join(self.runs, f"{arm.replace(' ', '-')}-seed{seed}")

    def plan(self):
        """[(arm, seed, run folder)] in the order they train: every arm per seed."""
        return [(arm, seed, self.folder(arm, seed)) for seed in self.seeds for arm in self.arms]

    @staticmethod
    def finished(run):
        return os.path.exists(os.path.join(run, 'metrics.json'))

    def command(self, data, arm, seed, run):
        """A new run, or the unfinished one continued with the same settings."""
        where = (['--resume', run] if os.path.exists(os.path.join(run, 'checkpoint.npz'))
                 else ['--out', run])
        return [sys.executable, '-m', 'train.cifar', *self.flags, '--seed', str(seed),
                '--data', data, *where, '--checkpoint-every', str(self.every), *self.arms[arm]]

    def train(self, data):
        """Train every unfinished run in order; the first failing run's exit status, or 0."""
        for arm, seed, run in self.plan():
            if not self.finished(run):
                status = subprocess.run(self.command(data, arm, seed, run),
                                        cwd=benchlib.ROOT).returncode
                if status:
                    return status
        return 0

    def collect(self, summary):
        """{arm: {seed: summary(metrics)}} of the finished runs."""
        out = {}
        for arm, seed, run in self.plan():
            if self.finished(run):
                out.setdefault(arm, {})[seed] = summary(
                    benchlib.read_json(os.path.join(run, 'metrics.json')))
        return out

    def missing(self):
        return [f"{arm}, seed {seed}" for arm, seed, run in self.plan() if not self.finished(run)]


def final_accuracies(metrics):
    """A finished run's final train and test accuracy, their gap, its speed, the
    gluon_aug version and load average it ended with, and its per-epoch accuracies."""
    final = metrics['final']
    return {'train_acc': final['train_acc'], 'test_acc': final['test_acc'],
            'gap': final['train_acc'] - final['test_acc'],
            'examples_per_sec': final['examples_per_sec'],
            'version': metrics.get('versions', {}).get('gluon_aug'),
            'load': (final.get('load_average') or [None])[0],
            'data': metrics['config'].get('data'),
            'epochs': [{k: e[k] for k in ('epoch', 'train_acc', 'test_acc')}
                       for e in metrics['epochs']]}


def mean(values):
    return sum(values) / len(values)


def print_report(prog, text, runs, hint):
    """Print the report `text`, or, with no finished run, one line and exit status 2."""
    from train import cli
    if text is None:
        return cli.fail(prog, f"no finished run in {runs!r}; run without --report-only "
                              f"{hint}to train them")
    print(text)
    return 0


def finish_report(md, missing):
    """The report's lines `md`, then what has not finished and the machine line, as text."""
    if missing:
        md = md + [f"Not finished yet: {'; '.join(missing)} (run the command again to "
                   "continue).", '']
    return '\n'.join(md + [f"Machine: {benchlib.machine(load=False)}."])


def write_report(text, record, record_path, section, path, head):
    """Store the runs' `record` as JSON at `record_path` and `text` as `section` of `path`."""
    with open(record_path, 'w') as f:
        json.dump(record, f, indent=1)
    benchlib.write_section(section, text, path=path, head=head)
