"""Start a parameter-server job on this machine: scheduler, servers, workers.

``launch(command, num_workers)`` gives every process MXNet's DMLC_* variables
(DMLC_ROLE, DMLC_PS_ROOT_URI=127.0.0.1, DMLC_PS_ROOT_PORT, DMLC_NUM_SERVER,
DMLC_NUM_WORKER); the scheduler and servers are `python -c "import mxnet"`
(MXNet runs those roles on import), the workers run `command`. Their output
is streamed line by line with a prefix: [scheduler], [server I], and
[worker R] where R is the worker's kvstore rank once gluon_aug announces it
([worker slot I] before). If any process fails, the others are ended and
``launch`` returns its status; it returns 0 when every worker succeeded.
``python -m train.launch`` is its command line.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from ..errors import UsageError

JOINED = re.compile(r'gluon_aug: joined \S+ as worker rank (\d+) of \d+')


def free_port(host='127.0.0.1'):
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Job:
    """The processes of one job, their output pumps and their ending."""

    def __init__(self, out=None):
        self.procs = []          # (name, Popen)
        self.out = out or sys.stdout
        self.lock = threading.Lock()
        self.pumps = []

    def start(self, name, argv, env):
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors='replace', bufsize=1,
                                start_new_session=True)   # its own group: end its children too
        label = {'name': name}
        self.procs.append((label, proc))
        pump = threading.Thread(target=self._pump, args=(label, proc), daemon=True)
        pump.start()
        self.pumps.append(pump)
        return proc

    def _pump(self, label, proc):
        for line in proc.stdout:
            match = JOINED.search(line) if label['name'].startswith('worker slot') else None
            if match:
                label['name'] = f'worker {match.group(1)}'
            with self.lock:
                self.out.write(f"[{label['name']}] {line.rstrip()}\n")
                self.out.flush()

    def failed(self):
        """(name, status) of the first process that exited non-zero, else None."""
        for label, proc in self.procs:
            if proc.poll() not in (None, 0):
                return label['name'], proc.returncode
        return None

    def end(self, grace):
        """SIGTERM every live process group, SIGKILL what is left after `grace` s."""
        live = [p for _, p in self.procs if p.poll() is None]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in live:
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5)
            for proc in live:
                try:
                    proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            live = [p for p in live if p.poll() is None]
            if not live:
                break
        for pump in self.pumps:
            pump.join(2)


def check_job(command, num_workers, num_servers, port, threads_per_worker, grace):
    """The worker command without its leading --; UsageError naming the first bad setting."""
    for name, value in (('-n/--num-workers', num_workers),
                        ('-s/--num-servers', num_servers)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, got {value}")
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"--port must be 1-65535, got {port}")
    if threads_per_worker is not None and threads_per_worker < 1:
        raise UsageError(f"--threads-per-worker must be at least 1, got "
                         f"{threads_per_worker}")
    if not grace > 0:
        raise UsageError(f"--grace must be a positive number of seconds, got {grace}")
    command = command[1:] if command[:1] == ['--'] else command
    if not command:
        raise UsageError("no worker command; put it after --, e.g. "
                         "`python -m train.launch -n 2 -- python -m train.cifar --kvstore "
                         "dist_sync ...`")
    return command


def exit_status(code):
    return 128 - code if code < 0 else code


def start_roles(job, base, command, num_servers, num_workers, threads):
    """Start the scheduler, the servers (MXNet runs those roles on import) and the
    workers (`command`) in `job`; return the workers' processes."""
    ps_role = [sys.executable, '-c', 'import mxnet']
    job.start('scheduler', ps_role, dict(base, DMLC_ROLE='scheduler', OMP_NUM_THREADS='1'))
    for i in range(num_servers):
        job.start(f'server {i}', ps_role, dict(base, DMLC_ROLE='server', OMP_NUM_THREADS='1'))
    try:
        return [job.start(f'worker slot {i}', command,
                          dict(base, DMLC_ROLE='worker', OMP_NUM_THREADS=str(threads)))
                for i in range(num_workers)]
    except OSError as err:  # e.g. the command does not exist
        raise UsageError(f"cannot start {command[0]!r}: {err.strerror or err}") from None


def launch(command, num_workers, num_servers=1, port=None, threads_per_worker=None,
           grace=30.0, out=None, environ=None, prog='gluon_aug.run.launcher'):
    """Run the job; return the launcher's exit status (messages name `prog`).
    Bad settings, or a command that cannot start, raise UsageError."""
    command = check_job(command, num_workers, num_servers, port, threads_per_worker, grace)
    environ = dict(os.environ if environ is None else environ)
    port = free_port() if port is None else port
    threads = threads_per_worker or max(1, usable_cores() // num_workers)
    base = dict(environ, DMLC_PS_ROOT_URI='127.0.0.1', DMLC_PS_ROOT_PORT=str(port),
                DMLC_NUM_SERVER=str(num_servers), DMLC_NUM_WORKER=str(num_workers),
                DMLC_NODE_HOST='127.0.0.1', PYTHONUNBUFFERED='1')
    job = Job(out)
    stop = {'signal': None}

    def on_signal(signum, _frame):
        stop['signal'] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        workers = start_roles(job, base, command, num_servers, num_workers, threads)
        while True:
            if stop['signal'] is not None:
                print(f"{prog}: got signal {stop['signal']}; ending the job", file=sys.stderr)
                return 128 + stop['signal']
            bad = job.failed()
            if bad:
                name, code = bad
                print(f"{prog}: error: {name} exited with status {code}; ending the other "
                      "processes", file=sys.stderr)
                return exit_status(code) or 1
            if all(w.poll() == 0 for w in workers):
                break
            time.sleep(0.1)
        # the workers are done; rank 0 has told the servers to stop
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for _, p in job.procs):
            time.sleep(0.1)
        bad = job.failed()
        if bad:
            print(f"{prog}: error: {bad[0]} exited with status {bad[1]} after the workers "
                  "finished", file=sys.stderr)
            return exit_status(bad[1]) or 1
        return 0
    finally:
        job.end(grace if stop['signal'] is None else min(grace, 5.0))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
