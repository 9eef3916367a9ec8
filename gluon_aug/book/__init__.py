"""The chapter's own code (d2l, sec_image_augmentation) and the d2l helpers it calls.

``ch13`` holds ``load_cifar10``, ``train_augs``/``test_augs``,
``evaluate_accuracy_gpus``, ``train_batch_ch13``, ``train_ch13`` and
``train_with_data_aug`` as the book writes them (every change marked ``# fix:``
or ``# departure:``); ``devices``, ``metrics``, ``plotting`` and ``resnet`` are
the d2l helpers those call; ``gallery`` is the chapter's ``apply`` on a photo.
Nothing of ours beyond the book lives here. It imports from ``data`` (the
CIFAR-10 reader), ``augment`` (the crash-free colour jitter) and the core
modules, never from ``models``, ``run`` or ``results``, which build on it.
"""
