"""Shared by the scripts: their arguments' checks, timing, the machine's description, the
report file. Imports nothing of MXNet at load (scripts/ref_airbench94.py runs under a Python
that has torch and no MXNet)."""
import argparse
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:   # train.cli from this repository, also where it is not installed
    sys.path.append(ROOT)
from train import cli  # noqa: E402

REPORT = os.path.join(ROOT, 'docs', 'BENCHMARKS.md')
# all 50,000 training images with CIFAR-10's own pixels: where the docs put them (from the
# repository's folder) and the command that writes them there
FULL = '../data/cifar10-lossless'
MAKE_FULL = f'python ../shared/data/cifar10-lossless/unpack.py {FULL}'
TORCH_VENV = 'install torch into another venv (python -m venv DIR && DIR/bin/pip install torch)'


class ArgumentParser(cli.ArgumentParser):
    """The command line's parser: a bad argument is one line, `PROG: error: MESSAGE`, and
    exit status 2. `check` refuses, the same way, an argument a script needs only in some
    of its modes (argparse would check a `type` on every run)."""

    def check(self, flag, value, kind):
        """`kind(value)` for the argument `flag`; its ArgumentTypeError is one line, exit 2."""
        try:
            return kind(value)
        except argparse.ArgumentTypeError as err:
            self.error(f"argument {flag}: {err}")


def _number(text, kind, what, least, most=math.inf):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not least <= value <= most or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def lossless(data):
    """Whether a run read CIFAR-10's own pixels: its --data was a cifar10-lossless folder
    (unpack.py's, named as the docs name it); the folders before it held pixels decoded
    from JPEG copies (quality about 75), which cost the recipes 3.5-4 points."""
    return 'cifar10-lossless' in (data or '')


def pixel_name(data):
    """What the pixels a run read with --data `data` are, as the reports name them."""
    return ("CIFAR-10's original pixels" if lossless(data)
            else "pixels decoded from JPEG copies of CIFAR-10")


def positive_int(text):
    """argparse type: an integer of at least 1 (a count of epochs, repeats, images...)."""
    return _number(text, int, 'a positive integer', 1)


def count(text):
    """argparse type: an integer of at least 0 (loader workers)."""
    return _number(text, int, 'an integer of 0 or more', 0)


def positive_float(text):
    """argparse type: a finite number above 0."""
    return _number(text, float, 'a positive number', math.ulp(0))   # the least float above 0


def seed(text):
    """argparse type: a seed train.cifar takes, 0 to 2**32 - 1."""
    return _number(text, int, f'an integer from 0 to {2 ** 32 - 1}', 0, 2 ** 32 - 1)


def cifar_folder(path, full=False):
    """argparse type: `path`, a folder of CIFAR-10's binary files (data_batch_*.bin and
    test_batch.bin; with `full`, all five training files, and the line says how to make
    them); else what is missing."""
    if path is None:
        where = 'not given'
    elif not os.path.isdir(path):
        where = f"{path!r} is not a folder"
    else:
        need = [f'data_batch_{k}.bin' for k in range(1, 6)] if full else ['data_batch_*.bin']
        missing = [n for n in need + ['test_batch.bin']
                   if not glob.glob(os.path.join(glob.escape(path), n))]
        if not missing:
            return path
        where = f"{path!r} lacks {', '.join(missing)}"
    how = (f"make all 50,000 training images with `{MAKE_FULL}` and give that folder"
           if full else
           'give a folder of CIFAR-10 binary files (data_batch_*.bin, test_batch.bin)')
    raise argparse.ArgumentTypeError(f"{where}; {how}")


def full_cifar_folder(path):
    """argparse type: `path`, a folder of all 50,000 CIFAR-10 training images and the test
    file; else how to make one."""
    return cifar_folder(path, full=True)


def file_to_write(path):
    """argparse type: `path`, a file whose folder exists (checked before a long run that
    writes it at its end)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder of {path!r} does not exist; make it "
                                         "or give another file")
    return path


def python_with(module, hint):
    """argparse type: a Python interpreter that can import `module` (tried in a
    subprocess); else a line that ends with `hint`, the way to get one."""
    def python(path):
        try:
            ok = subprocess.run([path, '-c', f'import {module}'], capture_output=True,
                                timeout=300).returncode == 0
        except (OSError, subprocess.SubprocessError) as err:
            raise argparse.ArgumentTypeError(
                f"{path!r} does not run ({getattr(err, 'strerror', None) or err}); {hint}")
        if not ok:
            raise argparse.ArgumentTypeError(f"{path!r} cannot import {module}; {hint}")
        return path
    return python


def torch_python(path):
    """argparse type: a Python that has torch (not a dependency of this project)."""
    return python_with('torch', f'{TORCH_VENV} and give DIR/bin/python')(path)


def _library_names(kind, name, names):
    if name not in names:
        raise argparse.ArgumentTypeError(f"unknown {kind} {name!r}; choose one of: "
                                         + ', '.join(names))
    return name


def preset(name):
    """argparse type: the name of an augmentation preset (loads MXNet, threads set first)."""
    cli.configure_threads()
    from gluon_aug.augment.presets import PRESETS
    return _library_names('preset', name, list(PRESETS))


def recipe(name):
    """argparse type: the name of a training recipe (loads MXNet, threads set first)."""
    cli.configure_threads()
    from gluon_aug.run.recipes import RECIPES
    return _library_names('recipe', name, list(RECIPES))


def model(name):
    """argparse type: a model get_model builds (loads MXNet, threads set first)."""
    cli.configure_threads()
    from gluon_aug.models.zoo import MODELS, gluoncv_cifar_models
    return name if name in MODELS else _library_names(
        'model', name, list(MODELS) + gluoncv_cifar_models())


def shown_path(arg):
    """An argument as a report shows it: paths relative to the repository, or ~."""
    if not os.path.isabs(arg):
        return arg
    home = os.path.expanduser('~')
    if arg.startswith(home + os.sep):
        return '~' + arg[len(home):]
    return os.path.relpath(arg, ROOT)


def shown_args(argv):
    """The command-line arguments `argv` (default: this process's) as a report shows them."""
    return ' '.join(shown_path(a) for a in (argv if argv is not None else sys.argv[1:]))


def read_json(path):
    with open(path) as f:
        return json.load(f)


def median_time(fn, repeats, warmup=1):
    """Median wall seconds of fn() over `repeats` runs after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile_operators(mx, run, calls):
    """[(operator, calls per run, ms per run)] of `calls` runs of run() under MXNet's
    profiler (aggregate statistics), costliest first; calls into the C API and waits are
    left out (their time is the operators', counted there already). The profiler's trace
    file goes to a folder of its own, removed after and at exit (MXNet may still be
    writing it when the profile is read): MXNet 1.9.1 replaces the file it is given, so
    given os.devnull by a root user it turned /dev/null into a regular file."""
    import atexit
    import shutil
    import tempfile
    folder = tempfile.mkdtemp(prefix='gluon_aug-profile-')
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    mx.profiler.set_config(profile_imperative=True, profile_symbolic=True,
                           aggregate_stats=True, filename=os.path.join(folder, 'profile.json'))
    mx.profiler.set_state('run')
    for _ in range(calls):
        run()
    mx.nd.waitall()
    mx.profiler.set_state('stop')
    stats = json.loads(mx.profiler.dumps(reset=True, format='json'))
    shutil.rmtree(folder, ignore_errors=True)
    ops = [(op, s['Count'] / calls, s['Total'] / calls)
           for domain, entries in stats.get('Time', {}).items()
           for op, s in entries.items()
           if isinstance(s, dict) and 'Total' in s and 'Count' in s
           and not is_api_call(domain, op)]
    return sorted(ops, key=lambda o: -o[2])


def is_api_call(domain, name):
    """Whether a profile entry is a call into MXNet's C API or a wait (time spent waiting
    for the operators, counted there already), not an operator."""
    return 'API' in domain or re.match(r'MX[A-Z]|WaitForVar|WaitAll', name) is not None


def child_result(command, limit, env=None):
    """(the JSON on the last line of `command`'s output, None), or (None, one line saying
    why there is none: the exit status and the last line of its error output, or the
    `limit` in seconds it overran). For scripts that measure each row in its own process,
    so that a crash or a hang loses that row only, with its reason."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=limit,
                              env=None if env is None else dict(os.environ, **env))
    except subprocess.TimeoutExpired:
        return None, f'no result within {limit} s'
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), None
    except (ValueError, IndexError):
        last = (proc.stderr.strip().splitlines() or ['no error output'])[-1]
        return None, f'exit status {proc.returncode}: {last[:150]}'


def machine(load=True):
    """One line: CPU model and vector units, cores usable, OpenMP threads, MXNet version
    and (with `load`) the load average now."""
    import mxnet
    from gluon_aug.run.outputs import cpu_description
    line = (f"{cpu_description()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
            f"MXNet {mxnet.__version__} (CPU build); Python {platform.python_version()}")
    return line + (f'; load average before the run {os.getloadavg()[0]:.2f}' if load else '')


BENCHMARKS_HEAD = ('# Benchmarks\n\nGenerated by the scripts in `scripts/` (each rewrites its '
                   'own section); do not edit by hand. Medians over repeats, measured side by '
                   'side in one run; these machines are shared, so compare ratios, not '
                   'absolute figures.\n')


def write_section(name, markdown, path=REPORT, head=BENCHMARKS_HEAD):
    """Replace section `name` of the markdown file `path` (between its markers) or
    append it (to `head` for a new file)."""
    text = open(path).read() if os.path.exists(path) else head
    begin, end = f'<!-- {name} -->', f'<!-- /{name} -->'
    block = f'{begin}\n{markdown.strip()}\n{end}'
    if begin in text:
        text = re.sub(re.escape(begin) + '.*?' + re.escape(end), lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip() + '\n\n' + block + '\n'
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def section(path, name):
    """Section `name` of the markdown file `path`, markers included ('' if absent)."""
    text = open(path).read() if os.path.exists(path) else ''
    found = re.search(re.escape(f'<!-- {name} -->') + '.*?' + re.escape(f'<!-- /{name} -->'),
                      text, flags=re.S)
    return found.group(0) if found else ''


def report(name, markdown, write=True):
    """Print a benchmark's markdown and, unless `write` is False, store its section."""
    print(markdown)
    if write:
        write_section(name, markdown)
    return 0


def full_scale_parser(prog, doc, folder, default, folder_help, report_help,
                      data_help=f'all 50,000 training images (e.g. {FULL}, made by '
                                f'`{MAKE_FULL}`)'):
    """The arguments of the experiment scripts: --data, the run folder flag
    `folder` (default `default`, under the repository), --report-only, --no-write."""
    p = ArgumentParser(prog=prog, description=doc.split('\n\n')[0])
    p.add_argument('--data', metavar='DIR', help=data_help)
    p.add_argument(folder, default=os.path.join(ROOT, default), metavar='DIR',
                   help=f'{folder_help} (default: {default})')
    p.add_argument('--report-only', action='store_true', help=report_help)
    p.add_argument('--no-write', action='store_true', help='print the report only')
    return p
