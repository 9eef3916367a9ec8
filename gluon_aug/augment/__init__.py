"""Augmentation: per-sample transforms and presets, and their batched twins.

``transforms`` (RandomPadCrop, RandomErasing, the crash-free RandomColorJitter)
and ``presets`` (``PRESETS``, ``get_preset``: what ``--aug`` names) work on one
HWC image in ``transform_first``, as the book's augmenters do; ``batch/``
holds the on-device twins for NCHW batches (``--aug-backend batch``);
``catalog`` lists what MXNet and GluonCV provide; ``preview`` draws a preset
both ways. The lowest layer of ours: it imports only the core modules
(``_mxnet``, ``errors``, ``seeding``), and anything above may import it.
"""
