"""Command-line entry points of gluon_aug: ``python -m train.cifar``, ``train.compare``,
``train.launch``. Each parses its arguments and calls one library function."""
