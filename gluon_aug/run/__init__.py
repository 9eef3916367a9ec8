"""One training run, from settings to files.

``config`` (``RunConfig``: every setting once; ``settle``: flags plus recipe
resolved into ``Settings``, once) and ``recipes`` (``Recipe``, ``RECIPES``) say
what runs; ``build`` turns them into a ``Training``; ``loop`` (``fit``) takes
every step with the book's ``train_batch_ch13``; ``ingredients`` are the fast
recipe's pieces; ``checkpoint`` saves and restores bitwise; ``cifar``
(``run_cifar``) and ``book_mode`` (``run_book``) are the two modes; ``record``
and ``outputs`` write what a run leaves; ``compare`` runs exercise 1;
``distributed`` and ``launcher`` are the dist_sync job. Imports everything
below it (``models``, ``book``, ``data``, ``augment``, core); only
``results`` and the public API import it.
"""
