"""gluon_aug: the MXNet Gluon path of d2l.ai's "Image Augmentation" as a package.

Install the CPU build for machines without a GPU, the CUDA 11.2 build for GPU
machines; never both (they provide the same `mxnet` module):

    pip install -e ".[cpu,test]"      # or ".[gpu,test]" on a GPU machine
    pip install -e ".[cpu,test,onnx]" # also ONNX export (python -m train.export)

constraints.txt pins every package to the versions CI installed and tested:
add `-c constraints.txt` to get exactly that set.
"""
import re

from setuptools import find_packages, setup

# The version is written once, in gluon_aug/_version.py (the package reads it too).
with open('gluon_aug/_version.py', encoding='utf-8') as f:
    VERSION = re.search(r"__version__ = '([^']+)'", f.read()).group(1)

setup(
    name='gluon_aug',
    version=VERSION,
    description="d2l.ai's Image Augmentation chapter (MXNet Gluon path) as an installable package",
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    # NumPy 1.23 (the last below 1.24, see install_requires) has wheels for
    # CPython 3.8-3.11 only; on 3.12 and later pip would try to build it from
    # source and fail at length. MXNet 1.9.1's wheels are py3-none, so NumPy
    # decides. pip refuses other Pythons with one line instead.
    python_requires='>=3.8,<3.12',
    packages=find_packages(include=['gluon_aug', 'gluon_aug.*', 'train', 'train.*']),
    # the batched augmenters' fused CPU kernels, compiled on first use with the system's
    # C++ compiler against MXNet's lib_api (augment/batch/native.py; without a compiler,
    # MXNet's operators run instead)
    package_data={'gluon_aug.augment.batch': ['kernels.cc']},
    install_requires=[
        # MXNet 1.9.1 uses np.bool and friends, removed in NumPy 1.24: `import
        # mxnet` fails with "module 'numpy' has no attribute 'bool'"
        # (apache/mxnet#21165), and with NumPy 2 (np.PZERO).
        'numpy<1.24',
        'gluoncv>=0.10.5',   # CIFAR model zoo (--model cifar_resnet20_v1 ...)
        'matplotlib',
        'tqdm',
    ],
    extras_require={
        # The MXNet build is an extra because the two wheels are alternatives
        # that install the same module; 1.9.1 is the release the book's MXNet
        # path was built with (d2l 1.0.3) and the last of the 1.x line.
        'cpu': ['mxnet==1.9.1'],
        'gpu': ['mxnet-cu112==1.9.1'],   # needs the NVIDIA driver and CUDA 11.2 libraries
        # nbclient + ipykernel run notebooks/image_augmentation.ipynb in a real
        # kernel (tests/test_notebook.py); nbformat reads it.
        # pytest-xdist: pytest.ini runs the suite on 2 processes (9 min instead of ~12 here)
        'test': ['pytest', 'pytest-xdist', 'nbclient', 'nbformat', 'ipykernel'],
        # python -m train.export writes model.onnx with MXNet's own exporter
        # (mx.onnx.export_model) and checks it with onnxruntime. onnx<1.16 keeps
        # the set verified with MXNet 1.9.1 and NumPy 1.23.5 (onnx 1.15.0, what CI
        # installs). The exporter dates from onnx 1.x of 2021-22; from onnx 1.19
        # on, importing onnx needs NumPy >= 1.25, and MXNet imports onnx when it
        # is installed, so even `import mxnet` fails.
        'onnx': ['onnx<1.16', 'onnxruntime'],
    },
    entry_points={'console_scripts': ['gluon-aug-cifar=train.cifar:main']},
)
