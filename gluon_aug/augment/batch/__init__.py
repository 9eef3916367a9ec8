"""Batched augmentation on the device: one random draw per batch, per-sample parameters.

``base`` (the draw/apply base class), ``geometry`` (flips, shifts and crops as
one resampling), ``color`` (colour jitter), ``blocks`` (the Gluon blocks),
``presets`` (every per-sample preset translated into its twin), ``mix``
(MixUp and CutMix, batch-level by nature, and the loss of a mixed batch),
``policy_ops`` (the policies' image ops, batched), ``policies`` (the policies,
batched, over those ops). Imports only
``augment``'s per-sample modules and the core.
"""
