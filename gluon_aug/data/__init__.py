"""CIFAR-10 on disk and the loaders of the default mode.

``cifar`` reads and checks the binary files (``CIFAR10``, any folder),
``download`` fetches them to Gluon's location, ``sampling`` plans each epoch
from (seed, epoch) so that runs repeat and resume exactly, and ``loaders``
builds the seeded per-sample ``cifar_loader`` and the fast recipe's in-memory
``ArrayLoader``. Imports ``augment`` (the batched flip and shift) and the
core; ``book`` and everything above may import it.
"""
