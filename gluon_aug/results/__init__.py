"""Using a finished run: ``run_folder`` opens and checks one, ``evaluate``
(``train.evaluate``) scores it on a test set with ``figures``, ``predict``
(``train.predict``) classifies images, ``export`` (``train.export``) writes
MXNet and ONNX files. The top layer below the public API; nothing imports it
but ``gluon_aug/__init__.py``.
"""
