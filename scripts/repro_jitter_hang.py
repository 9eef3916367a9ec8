"""Minimal reproduction: MXNet 1.9.1's RandomColorJitter segfaults; in DataLoader workers that looks like a hang.

    python scripts/repro_jitter_hang.py            # about 1 minute on 2 cores; prints a table, exits 0
    python scripts/repro_jitter_hang.py --case NAME   # run one case in this process (it may crash)

What it shows
-------------
``gluon.data.vision.transforms.RandomColorJitter(..., hue>0)`` runs MXNet's C++
``HLS2RGBConvert`` (src/operator/image/image_random-inl.h, tag 1.9.1, lines 845-863)::

    if (h < 0) {
      do { h += 6; } while (h < 0);
    } else if (h >= 6) {
      do { h -= 6; } while (h >= 6);
    }
    int sector = static_cast<int>(h);
    ...
    b = tab[c_HlsSectorData[sector][0]];      // c_HlsSectorData has 6 rows

A pixel whose shifted hue is a tiny negative number (above -2.4e-7 in units of
60 degrees) gives ``h + 6 == 6.0f`` in float32, so ``sector == 6``: the row past
the table is read (it holds the bits of the constant 0.299f), and ``tab[1050220167]``
is a load ~4 GB past the stack: SIGSEGV. It depends only on the pixel values and
the random hue shift, not on threads, OpenMP or fork. RandomColorJitter draws the
shift from [-hue, hue]; the standalone RandomHue draws from [1-hue, 1+hue] (the same
rotation modulo 360 degrees), so its ``h`` is never negative and it cannot crash.
Fixed upstream only on master (apache/mxnet#19516, for apache/mxnet#18986); no
1.x release has the fix.

With RandomColorJitter(0.4, 0.4, 0.4, 0.1) it hit 4 of 6,000 random 224x224
samples and 4 of 150,000 CIFAR-10 (32x32) samples: rare per image, certain in a
long run. In the main process it is a segfault. In a ``DataLoader(num_workers>0)``
worker, ``multiprocessing.Pool`` silently replaces the dead worker but never
re-runs its batch, so the loader waits: forever, or until its ``timeout`` (120 s
by default) raises TimeoutError.
OMP_NUM_THREADS, MXNET_MP_WORKER_NTHREADS, what the parent ran before forking,
thread_pool and the start method change nothing.

Every sample is deterministic: sample ``i`` is the image
``numpy.random.RandomState(i).randint(0, 256, (size, size, 3))`` transformed right
after ``mx.random.seed(i)``. Samples 1092-1107 at 224 px include 1099, which
crashes; sample 37226 is a 32 px image that crashes. The workaround, used by the
``fix`` cases, is ``RandomColorJitter(b, c, s, 0)`` followed by ``RandomHue(h)``.

The cases use only mxnet and numpy (MXNet 1.9.1); each case runs in its own process group
with a timeout, so nothing here can block or leave processes behind.
"""
import os
import signal
import subprocess
import sys
import threading
import time

from mxnet import gluon

import benchlib

HANG_AFTER = 15   # seconds without an exit that count as a hang

# name -> (what it shows, settings)
CASES = {
    'red-pixel': ('8x8 pure red (hue 0), RandomColorJitter(hue=1e-8): mechanism',
                  dict(variant='red', samples=range(8))),
    'red-pixel-fix': ('same image, RandomHue(1e-8) instead',
                      dict(variant='red-fix', samples=range(8))),
    '224-main': ('224 px, num_workers=0', dict(size=224, workers=0)),
    '224-workers': ('224 px, num_workers=2 (fork)', dict(size=224, workers=2)),
    '224-workers-omp1-warm': ('224 px, 2 workers, OMP_NUM_THREADS=1, parent ran the transform',
                              dict(size=224, workers=2, warm=True, env={'OMP_NUM_THREADS': '1'})),
    '224-threads': ('224 px, thread_pool=True', dict(size=224, workers=2, thread_pool=True)),
    '224-spawn': ('224 px, 2 workers, start method spawn', dict(size=224, workers=2, start='spawn')),
    '32-same-samples': ('32 px, 2 workers, same samples', dict(size=32, workers=2)),
    '32-crashing-sample': ('32 px, num_workers=0, samples 37220-37235',
                           dict(size=32, workers=0, samples=range(37220, 37236))),
    '224-workers-fix': ('fix: 224 px, 2 workers', dict(size=224, workers=2, variant='fix')),
    '224-threads-fix': ('fix: 224 px, thread_pool=True',
                        dict(size=224, workers=2, thread_pool=True, variant='fix')),
    '32-crashing-sample-fix': ('fix: 32 px, samples 37220-37235',
                               dict(size=32, workers=0, samples=range(37220, 37236), variant='fix')),
}


def run_case(name):
    """Child side: run one case in this process; print 'OK ...' if it finishes."""
    cfg = CASES[name][1]
    if cfg.get('start'):
        import multiprocessing
        multiprocessing.set_start_method(cfg['start'])   # DataLoader's Pool uses the default context
    import mxnet as mx
    T = gluon.data.vision.transforms
    variant = cfg.get('variant', 'fused')
    if variant in ('red', 'red-fix'):
        x = mx.nd.zeros((8, 8, 3), dtype='uint8')
        x[:, :, 0] = 255                                 # hue exactly 0
        f = T.RandomColorJitter(0, 0, 0, 1e-8) if variant == 'red' else T.RandomHue(1e-8)
        for i in cfg['samples']:
            mx.random.seed(i)
            f(x).wait_to_read()
        print('OK %d samples' % len(cfg['samples']), flush=True)
        return
    ds = _SeededJitter(cfg['size'], list(cfg.get('samples', range(1092, 1108))), variant)
    if cfg.get('warm'):
        ds[0].wait_to_read()                             # parent runs MXNet kernels before forking
    loader = gluon.data.DataLoader(ds, batch_size=4, num_workers=cfg['workers'],
                                   thread_pool=cfg.get('thread_pool', False), timeout=10 ** 6)
    n = 0
    for batch in loader:
        batch.wait_to_read()
        n += batch.shape[0]
    print('OK %d samples' % n, flush=True)


_LOCK = threading.Lock()


def _make_transform(variant):
    T = gluon.data.vision.transforms
    if variant == 'fix':                                 # the workaround
        t = gluon.nn.HybridSequential()
        t.add(T.RandomColorJitter(0.4, 0.4, 0.4, 0), T.RandomHue(0.1))
        return t
    return T.RandomColorJitter(0.4, 0.4, 0.4, 0.1)       # as in d2l-style flip-color presets


class _SeededJitter(gluon.data.Dataset):
    """Sample k: image RandomState(ids[k]), MXNet seeded with ids[k] right before the jitter."""

    def __init__(self, size, ids, variant):
        self.size, self.ids, self.variant, self.fn = size, ids, variant, None

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, k):
        import numpy as onp
        import mxnet as mx
        i = self.ids[k]
        if self.fn is None:
            self.fn = _make_transform(self.variant)
        x = mx.nd.array(onp.random.RandomState(i).randint(0, 256, (self.size, self.size, 3)),
                        dtype='uint8')
        with _LOCK:                     # threads share MXNet's generator: seed and draw together
            mx.random.seed(i)
            y = self.fn(x)
            y.wait_to_read()
        return mx.nd.image.to_tensor(y)


def run_in_subprocess(name):
    """(result, seconds): ok / SEGV / HANG, from a child process group killed after HANG_AFTER s."""
    env = dict(os.environ)
    env.update(CASES[name][1].get('env', {}))
    start = time.time()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--case', name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=HANG_AFTER)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)             # the case and its DataLoader workers
        out, err = proc.communicate()
        hung = True
    secs = time.time() - start
    segv = 'Segmentation fault' in err
    if hung:
        return 'HANG: no exit in %d s%s' % (HANG_AFTER, ' (a worker died of SIGSEGV)' if segv else ''), secs
    if proc.returncode == 0 and out.startswith('OK'):
        return 'ok (%s)' % out.split('\n')[0][3:], secs
    if segv:
        return 'SEGV (exit %d)' % proc.returncode, secs
    return 'error (exit %d): %s' % (proc.returncode, (err or out).strip()[-150:]), secs


def get_args_parser():
    p = benchlib.ArgumentParser(prog='scripts/repro_jitter_hang.py',
                                description=__doc__.split('\n\n')[0])
    p.add_argument('--case', choices=list(CASES), help='run this case in this process')
    return p


def main(argv):
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.case:
        run_case(args.case)
        return 0
    import mxnet
    print('MXNet %s, OMP_NUM_THREADS=%s; each case in its own process, killed after %d s\n'
          % (mxnet.__version__, os.environ.get('OMP_NUM_THREADS'), HANG_AFTER), flush=True)
    width = max(len(d) for d, _ in CASES.values())
    print('%-*s  %s' % (width, 'case', 'result'))
    print('%s  %s' % ('-' * width, '-' * 40))
    for name, (desc, _) in CASES.items():
        result, secs = run_in_subprocess(name)
        print('%-*s  %s  [%.0f s]' % (width, desc, result, secs), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
