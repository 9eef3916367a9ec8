"""``--book``: the chapter's code path and nothing else.

``run_book(settings)`` does the book's global setup
(``net.initialize(init=init.Xavier(), ctx=devices)``), then calls its
``train_with_data_aug(train_augs, test_augs, net)``: the book's
``load_cifar10``, an imperative net, ``train_ch13`` as written. Only what the
book's code is given may change (``config.check_book``). With `out`, the
figures ``train_ch13`` returns go into metrics.json, its Animator into
curves.png, and the trained net into model.params.
"""
import time

from .._mxnet import init
from ..augment.presets import eval_transform, get_preset
from ..book.ch13 import ch13_animator, train_with_data_aug
from ..book.devices import parse_devices
from ..models.zoo import get_model
from .outputs import hold_run_folder, prepare_folders
from .record import metrics_record, run_facts, write_outputs


def run_book(settings):
    """Train as the chapter does (see the module's text); return the metrics."""
    config = settings.config
    devices, net = parse_devices(config.devices), get_model(config.model, num_classes=10)
    prepare_folders(config, config.overwrite)
    with hold_run_folder(config.out, new_run=True, overwrite=config.overwrite):
        net.initialize(init=init.Xavier(), ctx=devices)
        animator, start = ch13_animator(config.epochs), time.perf_counter()
        epochs, speed = train_with_data_aug(
            get_preset(config.aug), eval_transform(), net, config.lr,
            batch_size=config.batch_size, num_epochs=config.epochs, devices=devices,
            root=config.data, num_workers=config.num_workers, limit_train=config.limit_train,
            limit_test=config.limit_test, animator=animator)
        history = [{'epoch': e + 1, 'train_loss': l, 'train_acc': a, 'test_acc': t}
                   for e, (l, a, t) in enumerate(epochs)]
        metrics = metrics_record(settings, run_facts(devices), history,
                                 time.perf_counter() - start, examples_sec=speed)
        if config.out is not None:   # the trained net too, for train.evaluate/predict/export
            write_outputs(config.out, metrics, animator, net)
    animator.close()
    return metrics
