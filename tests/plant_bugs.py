"""Break the code on purpose, one bug at a time, and check that the tests see it.

    python tests/plant_bugs.py            # every bug below, each against its tests
    python tests/plant_bugs.py lock FIFO  # those whose names hold these words

For each entry: replace `old` by `new` in `path`, run the named test files
(one process), restore the file. Prints CAUGHT when the tests fail, MISSED
when they pass anyway (a hole in the tests). Not collected by pytest. It edits
the tree it lives in while it runs: run it in a worktree of its own
(`git worktree add ../plant HEAD`), not where you commit or train.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRAWS, DATA = 'tests/test_draws.py', 'tests/test_data.py'
POL, POL_OPS = 'tests/test_policies.py', 'tests/test_policy_ops.py'
TWINS = 'tests/test_policy_twins.py'
BUGS = [
 ('box stuck top-left (batched offsets)', 'gluon_aug/augment/batch/geometry.py',
  "top = F.np.floor(uniform(F, x, k=None) * (H.reshape(1, 1, 1, 1) - h + 1))", "top = 0 * F.np.floor(uniform(F, x, k=None) * (H.reshape(1, 1, 1, 1) - h + 1))", [DRAWS]),
 ('last position never drawn (batched offsets)', 'gluon_aug/augment/batch/geometry.py',
  "left = F.np.floor(uniform(F, x, k=None) * (W.reshape(1, 1, 1, 1) - w + 1))", "left = F.np.floor(uniform(F, x, k=None) * (W.reshape(1, 1, 1, 1) - w))", [DRAWS]),
 ('last shift never drawn (batched pad-crop)', 'gluon_aug/augment/batch/blocks.py',
  "return tuple(F.np.floor(uniform(F, x, 0, n, k=None)) for _ in 'tl')", "return tuple(F.np.floor(uniform(F, x, 0, n - 1, k=None)) for _ in 'tl')", [DRAWS]),
 ('last shift never drawn (per-sample pad-crop)', 'gluon_aug/augment/transforms.py',
  "dy, dx = onp.random.randint(0, 2 * self.pad + 1, size=2) - self.pad", "dy, dx = onp.random.randint(0, 2 * self.pad, size=2) - self.pad", [DRAWS]),
 ('per-sample erasing box at (0, 0)', 'gluon_aug/augment/transforms.py',
  "return (onp.random.randint(0, h - eh + 1), onp.random.randint(0, w - ew + 1),", "return (0 * onp.random.randint(0, h - eh + 1), 0 * onp.random.randint(0, w - ew + 1),", [DRAWS]),
 ('batched flip default p 0.4', 'gluon_aug/augment/batch/blocks.py',
  "    def __init__(self, p=0.5, axis=3):", "    def __init__(self, p=0.4, axis=3):", [DRAWS]),
 ('batched erasing rate 0.9 p', 'gluon_aug/augment/batch/blocks.py',
  "erase = (uniform(F, x, k=None) < self.p).astype('float32') * fits", "erase = (uniform(F, x, k=None) < 0.9 * self.p).astype('float32') * fits", [DRAWS]),
 ('per-sample erasing rate 0.9 p', 'gluon_aug/augment/transforms.py',
  "if onp.random.rand() >= self.p:", "if onp.random.rand() >= 0.9 * self.p:", [DRAWS]),
 ('label check loosened by one', 'gluon_aug/data/cifar.py',
  "bad = onp.flatnonzero(raw[:, 0] > 9)", "bad = onp.flatnonzero(raw[:, 0] > 10)", [DATA]),
 ('batch backend wired to a plain split', 'gluon_aug/run/build.py',
  "return eval_transform(False), BatchSplit(batch_aug, seed), split_batch", "return eval_transform(False), split_batch, split_batch", [DRAWS]),
 ('batched draws not seeded per step', 'gluon_aug/run/batch_step.py',
  "            if self.seed is not None:", "            if False:",
  ['tests/test_resume.py::test_batch_backend_repeats_exactly_whatever_loads_the_batches']),
 ('resume does not compare the learning rate', 'gluon_aug/run/config.py',
  "for f in config_fields('resume') for v in [values.get(f.name, f.default)]}",
  "for f in config_fields('resume') for v in [values.get(f.name, f.default)] if f.name != 'lr'}",
  ['tests/test_resume.py']),
 ('no lock on the run folder', 'gluon_aug/run/outputs.py',
  "            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "            pass",
  ['tests/test_resume.py::test_a_second_resume_of_a_running_folder_is_refused']),
 ('colour jitter with the hue always last', 'gluon_aug/augment/transforms.py',
  "        for k in onp.random.permutation(4):", "        for k in list(onp.random.permutation(3)) + [3]:",
  ['tests/test_transforms.py']),
 ("a checkpoint's hyperparameters restored", 'gluon_aug/run/checkpoint.py',
  "    for k in STATE_SCALARS:\n        setattr(opt, k, meta['scalars'][k])",
  "    for k, v in meta['scalars'].items():\n        setattr(opt, k, v)",
  ['tests/test_resume.py::test_a_checkpoints_hyperparameters_decide_nothing_on_resume']),
 ('checkpoint members read unchecked', 'gluon_aug/run/checkpoint_file.py',
  "        check_members(path)\n", "",
  ['tests/test_checkpoint.py']),
 ('predict reads any file', 'gluon_aug/results/predict.py',
  "    if not stat.S_ISREG(info.st_mode):", "    if False:",
  ['tests/test_predict.py::test_only_regular_files_of_bounded_size_are_read']),
 ('metrics.json types not checked', 'gluon_aug/results/run_folder.py',
  "    bad = next((f.name for f in config_fields() if not _fits(recorded[f.name], f)), None)",
  "    bad = None", ['tests/test_trained.py::test_a_folder_that_is_not_a_finished_run_is_one_line']),
 ('OMP_NUM_THREADS not checked', 'train/cli.py',
  "    if value and not re.fullmatch(", "    if False and not re.fullmatch(",
  ['tests/test_cli.py::test_an_omp_num_threads_openmp_would_abort_on_is_one_line']),
 ('export replaces a folder holding files', 'gluon_aug/results/export.py',
  "    if os.path.isdir(out) and os.listdir(out) and not overwrite:", "    if False:",
  ['tests/test_export.py::test_an_out_holding_files_is_refused_unless_overwrite']),
 ('evaluate writes its PNGs in place', 'gluon_aug/results/evaluate.py',
  "    with atomic_path(os.path.join(out, 'confusion.png'), hint) as tmp:",
  "    for tmp in [os.path.join(out, 'confusion.png')]:",
  ['tests/test_inspect_run.py::test_a_full_disk_while_writing_the_report_is_one_line_and_no_partial_file']),
 ('MXNET_HOME not probed', 'gluon_aug/data/download.py', "        _probe(root)\n", "",
  ['tests/test_cli.py::test_an_mxnet_home_that_cannot_hold_the_data_is_one_line',
   'tests/test_download.py::test_a_data_root_that_cannot_be_written_is_one_usage_error']),
 ('Ctrl-C raised inside the step', 'gluon_aug/stopping.py',
  "    if STATE.deferring and STATE.pending is None:", "    if False:",
  ['tests/test_stopping.py']),
 ('a data FIFO called missing', 'gluon_aug/data/cifar.py',
  "        if not os.path.isfile(path):", "        if False:",
  ['tests/test_data.py::test_a_data_file_that_is_not_a_regular_file_is_said_so']),
 ('forked workers keep the handlers', 'gluon_aug/stopping.py',
  "os.register_at_fork(after_in_child=_in_child)", "pass", ['tests/test_stopping.py']),
 ('policy: last sub-policy never drawn', 'gluon_aug/augment/policies/autoaugment.py',
  "k = rng.randint(len(self.policy))", "k = rng.randint(len(self.policy) - 1)", [POL]),
 ('policy: colour factors signed', 'gluon_aug/augment/policies/autoaugment.py',
  "return signed(value, rng) if op in SIGNED else value",
  "return signed(value, rng) if value else value", [POL]),
 ('policy: posterize keeps 8 - 0.4 L bits', 'gluon_aug/augment/policies/autoaugment.py',
  "bits=(4, 0), cutout=20)", "bits=(8, 4), cutout=20)", [POL]),
 ('policy: black fill in AutoAugment', 'gluon_aug/augment/policies/autoaugment.py',
  "    fill = CIFAR10_MEAN_PIXEL", "    fill = 0", [POL]),
 ('policy: strength 30 never drawn', 'gluon_aug/augment/policies/trivialaugment.py',
  "rng.randint(STRENGTHS)", "rng.randint(STRENGTHS - 1)", [POL]),
 ('policy: RandAugment skips the last op', 'gluon_aug/augment/policies/randaugment.py',
  "op = OPS[rng.randint(len(OPS))]", "op = OPS[rng.randint(len(OPS) - 1)]", [POL]),
 ('policy: AugMix m from Beta(a, 2a)', 'gluon_aug/augment/policies/augmix.py',
  "m = onp.float32(rng.beta(self.alpha, self.alpha))",
  "m = onp.float32(rng.beta(self.alpha, 2 * self.alpha))", [POL]),
 ('policy: AugMix rounds the mixture', 'gluon_aug/augment/policies/augmix.py',
  "return ((1 - m) * img.astype(onp.float32) + m * mix).astype(onp.float32)",
  "return ((1 - m) * img.astype(onp.float32) + m * mix).round().astype(onp.float32)", [POL]),
 ('policy: AugMix depth 1-2', 'gluon_aug/augment/policies/augmix.py',
  "rng.randint(1, 4)", "rng.randint(1, 3)", [POL]),
 ('op: affine samples pixel corners', 'gluon_aug/augment/policies/ops.py',
  "Y, X = onp.mgrid[0:h, 0:w] + 0.5", "Y, X = onp.mgrid[0:h, 0:w] + 0.0", [POL_OPS]),
 ('op: equalize step counts the top bin', 'gluon_aug/augment/policies/ops.py',
  "step = (used.sum() - used[-1]) // 255", "step = used.sum() // 255", [POL_OPS]),
 ('op: smooth centre weight 4', 'gluon_aug/augment/policies/ops.py',
  "+ 4 * x[1:-1, 1:-1]", "+ 3 * x[1:-1, 1:-1]", [POL_OPS]),
 ('op: contrast mean truncated', 'gluon_aug/augment/policies/ops.py',
  "mean = int(grayscale(img).mean() + 0.5)", "mean = int(grayscale(img).mean())", [POL_OPS]),
 ('op: rotation clockwise', 'gluon_aug/augment/policies/ops.py',
  "angle = -math.radians(degrees % 360.0)", "angle = math.radians(degrees % 360.0)", [POL_OPS]),
 ('exercise 1 verdict over unpaired seeds', 'scripts/exercise1_full.py',
  "    gaps = {arm: mean([by_seed[s]['gap'] for s in seeds])",
  "    gaps = {arm: mean([r['gap'] for r in by_seed.values()])",
  ['tests/test_scripts.py::test_exercise1_report_compares_the_arms_on_the_seeds_both_finished']),
 ('mix: loss weights swapped', 'gluon_aug/augment/batch/mix.py',
  "return mix.lam * self.base(pred, label) + (1 - mix.lam) * self.base(pred, partner)",
  "return (1 - mix.lam) * self.base(pred, label) + mix.lam * self.base(pred, partner)",
  ['tests/test_mix.py']),
 ('mix: CutMix lambda not set to the box share', 'gluon_aug/augment/batch/mix.py',
  "return Mix(rng.permutation(n), 1 - box[2] * box[3] / (h * w), box)",
  "return Mix(rng.permutation(n), float(lam), box)", ['tests/test_mix.py']),
 ('mix: MixUp partners are themselves', 'gluon_aug/augment/batch/mix.py',
  "return Mix(rng.permutation(n), float(rng.beta(self.alpha, self.alpha)))",
  "return Mix(onp.arange(n), float(rng.beta(self.alpha, self.alpha)))", ['tests/test_mix.py']),
 ('mix: draws not seeded per step', 'gluon_aug/run/batch_step.py',
  "x = self.mix(x, onp.random if seed is None else onp.random.RandomState(seed))",
  "x = self.mix(x, onp.random)",
  ['tests/test_resume.py::test_batch_backend_repeats_exactly_whatever_loads_the_batches']),
 ('bf16: layers not cast', 'gluon_aug/models/precision.py',
  "        _computing_in(block, bfloat16)", "        pass", ['tests/test_precision.py']),
 ('bf16: output left in bfloat16', 'gluon_aug/models/precision.py',
  "    _returning_float32(top)\n", "", ['tests/test_precision.py']),
 ('bf16: any CPU accepted', 'gluon_aug/models/precision.py',
  "    if 'avx512f' not in flags:", "    if False:", ['tests/test_precision.py']),
 ('twin: affine samples pixel corners', 'gluon_aug/augment/batch/policy_ops.py',
  "X = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1) + 0.5",
  "X = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1) + 0.0", [TWINS]),
 ('twin: solarize spares the threshold', 'gluon_aug/augment/batch/policy_ops.py',
  "above = (v >= threshold)", "above = (v > threshold)", [TWINS]),
 ('twin: posterize keeps a bit more', 'gluon_aug/augment/batch/policy_ops.py',
  "step = 2 ** (8 - bits)", "step = 2 ** (7 - bits)", [TWINS]),
 ('twin: cutout rounds half up', 'gluon_aug/augment/batch/policy_ops.py',
  "half = F.np.floor(size / 2)", "half = F.np.ceil(size / 2)", [TWINS]),
 ('twin: smooth centre weight 4', 'gluon_aug/augment/batch/policy_ops.py',
  "    total = 4 * v", "    total = 3 * v", [TWINS]),
 ('twin: rotation clockwise', 'gluon_aug/augment/batch/policy_ops.py',
  "theta = degrees * (-3.141592653589793 / 180)", "theta = degrees * (3.141592653589793 / 180)",
  [TWINS]),
]
ONLY = sys.argv[1:]   # name fragments: plant only those
for name, path, old, new, tests in BUGS:
    if ONLY and not any(o in name for o in ONLY):
        continue
    path = os.path.join(ROOT, path)
    src = open(path).read()
    assert src.count(old) == 1, (name, src.count(old))
    open(path, 'w').write(src.replace(old, new))
    try:
        r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-x', '-n', '0', '-p',
                            'no:cacheprovider', *tests], cwd=ROOT, capture_output=True, text=True)
        last = r.stdout.strip().splitlines()[-1]
        print(('CAUGHT ' if r.returncode else 'MISSED ') + name + ': ' + last, flush=True)
    finally:
        open(path, 'w').write(src)
