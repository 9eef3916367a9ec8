"""Batched augmentation on the device: one random draw per batch, per-sample parameters.

``base`` (the draw/apply base class), ``geometry`` (flips, shifts and crops as
one resampling), ``color`` (colour jitter), ``blocks`` (the Gluon blocks),
``presets`` (every per-sample preset translated into its twin). Imports only
``augment``'s per-sample modules and the core.
"""
