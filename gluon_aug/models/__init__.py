"""Networks by name: ``zoo.get_model`` builds d2l's ResNet-18 (from ``book``),
``fastnet`` (the fast recipe's) or a GluonCV CIFAR model through
``LegacyAdapter``. Imports ``book`` and the core; ``run`` and ``results`` use it.
"""
