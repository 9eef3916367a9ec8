"""python -m train.export: MXNet files that reproduce the trained net's logits exactly,
ONNX that onnxruntime runs to 1e-4, for d2l's numpy-mode ResNet-18 and a GluonCV
model; an export that fails a check writes nothing."""
import json
import os

import numpy as onp
import pytest

from conftest import assert_one_line_error, run_module

from gluon_aug.results import export as export_module
from gluon_aug._mxnet import mx, np
from gluon_aug.data.cifar import CLASSES, read_cifar_bin
from gluon_aug.errors import UsageError
from gluon_aug.results.export import export_run, load_symbol_block, onnx_available
from gluon_aug.models.zoo import LegacyAdapter, native_scope
from gluon_aug.augment.presets import eval_transform
from gluon_aug.results.run_folder import inference_net, open_run
from train import export

needs_onnx = pytest.mark.skipif(not onnx_available(), reason='the onnx extra is not installed '
                                '(pip install -e ".[onnx]")')


def _test_batch(data, n=16):
    images, _ = read_cifar_bin(os.path.join(data, 'test_batch.bin'))
    transform = eval_transform()
    return onp.stack([transform(np.array(img)).asnumpy() for img in images[:n]])


def _trained_logits(run_dir, x):
    net = inference_net(open_run(run_dir))
    return net(np.array(x)).asnumpy(), net


@pytest.fixture(params=['run_cpu1', 'run_resnet18'], ids=['gluoncv', 'd2l-resnet18'])
def exported(request, tmp_path):
    """(run folder, export folder) for a GluonCV model and d2l's ResNet-18."""
    run = request.getfixturevalue(request.param)
    out = str(tmp_path / 'export')
    assert export.main([run, '--out', out]) == 0
    return run, out


def test_the_symbolblock_reproduces_the_trained_logits_exactly(exported, tiny_data):
    run, out = exported
    x = _test_batch(tiny_data)
    want, net = _trained_logits(run, x)
    legacy = isinstance(net, LegacyAdapter)
    with native_scope(net):   # a GluonCV model is legacy NDArray code, d2l's numpy mode
        got = load_symbol_block(out)(mx.nd.array(x) if legacy else np.array(x)).asnumpy()
    assert onp.array_equal(got, want)
    info = json.loads(open(os.path.join(out, 'export.json')).read())
    assert info['classes'] == list(CLASSES) and info['input']['name'] == 'data'
    assert info['checks']['symbolblock'] == 'exact'
    assert {'model-symbol.json', 'model-0000.params', 'export.json'} <= set(os.listdir(out))


@needs_onnx
def test_onnxruntime_reproduces_the_trained_logits(exported, tiny_data):
    import onnx
    import onnxruntime
    run, out = exported
    x = _test_batch(tiny_data)
    want, _ = _trained_logits(run, x)
    path = os.path.join(out, 'model.onnx')
    assert [i.name for i in onnx.load(path).graph.input] == ['data']   # weights: not inputs
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = session.run(None, {'data': x})[0]
    assert abs(got - want).max() <= 1e-4
    one = session.run(None, {'data': x[:1]})[0]   # the batch dimension is dynamic
    assert abs(one - want[:1]).max() <= 1e-4


def _nothing_written(out, tmp_path):
    return not os.path.exists(out) and not [n for n in os.listdir(tmp_path / 'tmp')
                                            if n.startswith('gluon_aug-export-')]


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    import tempfile
    (tmp_path / 'tmp').mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'tmp'))


def test_an_export_that_does_not_reproduce_the_net_writes_nothing(run_cpu1, tmp_path,
                                                                   monkeypatch, own_tempdir):
    class Off:
        def __init__(self, block):
            self.block = block

        def __call__(self, x):
            return self.block(x) + 1e-3
    real = export_module.load_symbol_block
    monkeypatch.setattr(export_module, 'load_symbol_block', lambda folder: Off(real(folder)))
    out = str(tmp_path / 'export')
    with pytest.raises(UsageError, match='do not reproduce the net'):
        export_run(run_cpu1, out)
    assert _nothing_written(out, tmp_path)


@needs_onnx
def test_onnx_that_does_not_match_writes_nothing(run_resnet18, tmp_path, monkeypatch,
                                                own_tempdir):
    out = str(tmp_path / 'export')
    monkeypatch.setattr(export_module, 'ONNX_TOLERANCE', -1.0)
    with pytest.raises(UsageError, match='ONNX model of resnet18 does not reproduce'):
        export_run(run_resnet18, out)
    assert _nothing_written(out, tmp_path)


@needs_onnx
def test_a_net_mxnets_exporter_cannot_convert_is_one_line_and_no_onnx_is_the_way_out(
        run_resnet18, tmp_path, monkeypatch, own_tempdir, capsys):
    from mxnet import onnx as mx_onnx

    def no_converter(*args, **kwargs):
        raise AttributeError('No conversion function registered for op type _npx_relu yet.')
    monkeypatch.setattr(mx_onnx, 'export_model', no_converter)
    out = str(tmp_path / 'export')
    assert export.main([run_resnet18, '--out', out]) == 2
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and 'cannot convert resnet18' in err and '_npx_relu' in err
    assert '--no-onnx' in err and _nothing_written(out, tmp_path)
    assert export.main([run_resnet18, '--out', out, '--no-onnx']) == 0
    assert 'model.onnx' not in os.listdir(out)


def test_an_out_holding_files_is_refused_unless_overwrite(run_cpu1, tmp_path):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'model.onnx').write_bytes(b'my own model')
    proc = run_module('train.export', run_cpu1, '--out', str(out), '--no-onnx')
    assert_one_line_error(proc, 'already holds files (model.onnx)', '--overwrite')
    assert (out / 'model.onnx').read_bytes() == b'my own model'
    proc = run_module('train.export', run_cpu1, '--out', str(out), '--no-onnx', '--overwrite')
    assert proc.returncode == 0, proc.stderr
    assert {'model-symbol.json', 'model-0000.params', 'export.json'} <= set(os.listdir(out))
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.export-')]   # no staging left


def test_a_full_disk_during_export_is_one_line_exit_1_and_leaves_nothing(run_cpu1, tmp_path,
                                                                        monkeypatch):
    import errno
    from gluon_aug.errors import RunError
    from gluon_aug.results import export as export_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(export_module, 'write_json', full)
    out = tmp_path / 'new'
    with pytest.raises(RunError, match='the disk is full.*nothing was exported'):
        export_module.export_run(run_cpu1, str(out), onnx=False)
    assert os.listdir(tmp_path) == []   # neither out nor the staging folder
