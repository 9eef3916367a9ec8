"""bfloat16 on Intel AMX with MXNet 1.9.1: what the CPU offers, and switching AMX on.

oneDNN 2.4, inside MXNet 1.9.1, has AMX kernels but keeps them off. Two steps
turn them on, both before MXNet runs its first operator: the process asks
Linux for the AMX tile state (``arch_prctl(ARCH_REQ_XCOMP_PERM,
XFEATURE_XTILEDATA)``; without it an AMX kernel kills the process), and
``DNNL_MAX_CPU_ISA=AVX512_CORE_AMX`` lets oneDNN pick them. Kept out of the
library because ``import gluon_aug`` loads MXNet.
"""
import ctypes
import os
import platform

SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 158, 0x1023, 18


def cpu_flags():
    """The CPU's feature flags (/proc/cpuinfo), or an empty set where unreadable."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_support(flags=None):
    """'amx' (AMX tiles), 'avx512_bf16' (bf16 dot products only: whether that beats
    float32 depends on the CPU, see scripts/probe_bf16.py), or None."""
    flags = cpu_flags() if flags is None else flags
    if 'amx_bf16' in flags and 'amx_tile' in flags:
        return 'amx'
    return 'avx512_bf16' if 'avx512_bf16' in flags else None


def enable_amx(environ=os.environ):
    """Ask Linux for the AMX tile state and let oneDNN use AMX; call before MXNet's
    first operator. Returns True if granted (False on CPUs or kernels without it)."""
    if platform.machine() != 'x86_64' or bf16_support() != 'amx':
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0:
        return False
    environ['DNNL_MAX_CPU_ISA'] = 'AVX512_CORE_AMX'
    return True
