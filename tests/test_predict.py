"""python -m train.predict: any JPEG or PNG to 32x32, the top 3 classes, the same answer
as the evaluation for a test image, and one line for a file that is not an image."""
import json
import os

import numpy as onp
import pytest

from gluon_aug.data.cifar import CLASSES, read_cifar_bin
from gluon_aug.errors import UsageError
from gluon_aug.results.evaluate import evaluate_run
from gluon_aug.results.predict import read_as_cifar_image
from train import predict

from conftest import CAT, assert_one_line_error, run_module


def _save(path, array, mode=None):
    from PIL import Image
    Image.fromarray(array, mode).save(path)
    return str(path)


def test_a_32x32_png_is_read_unchanged_and_any_size_becomes_32x32(tmp_path):
    rng = onp.random.RandomState(0)
    exact = rng.randint(0, 256, (32, 32, 3)).astype(onp.uint8)
    assert onp.array_equal(read_as_cifar_image(_save(tmp_path / 'a.png', exact)), exact)
    for name, array, mode in [('wide.jpg', rng.randint(0, 256, (300, 500, 3)), None),
                              ('tiny.png', rng.randint(0, 256, (10, 20, 3)), None),
                              ('grey.png', rng.randint(0, 256, (64, 48)), 'L'),
                              ('alpha.png', rng.randint(0, 256, (40, 40, 4)), 'RGBA')]:
        img = read_as_cifar_image(_save(tmp_path / name, array.astype(onp.uint8), mode))
        assert img.shape == (32, 32, 3) and img.dtype == onp.uint8, name


def test_the_centre_is_kept(tmp_path):
    """A 64x128 image whose middle half is white and sides black: its centred
    64x64 square, resized to 32x32, is all white."""
    img = onp.zeros((64, 128, 3), onp.uint8)
    img[:, 32:96] = 255
    out = read_as_cifar_image(_save(tmp_path / 'band.png', img))
    assert out.min() == 255


@pytest.mark.parametrize('content, needle', [
    (b'hello', 'is not a JPEG or PNG image'),
    (b'\x89PNG\r\n\x1a\n' + b'\x00' * 40, 'damaged or unsupported image'),
    (None, 'cannot read image')])
def test_a_file_that_is_not_a_readable_image_is_one_usage_error(content, needle, tmp_path):
    path = tmp_path / 'x.png'
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=needle):
        read_as_cifar_image(str(path))


def test_predict_on_test_images_agrees_with_the_evaluation(run_cpu1, tiny_data, tmp_path,
                                                           capsys):
    """PNGs written from test images: the same top class as train.evaluate's, and
    the same probabilities up to float32 rounding (a batch of 5, not of 8)."""
    report = evaluate_run(run_cpu1, out=str(tmp_path / 'eval'))
    images, _ = read_cifar_bin(os.path.join(tiny_data, 'test_batch.bin'))
    picks = [0, 3, 7, 20, 47]
    paths = [_save(tmp_path / f'test{i}.png', images[i]) for i in picks]
    capsys.readouterr()
    assert predict.main([run_cpu1, *paths, '--json']) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r['image'] for r in results] == paths
    for i, r in zip(picks, results):
        assert r['top'][0]['class'] == CLASSES[report['predictions'][i]]
        assert len(r['top']) == 3
        probs = [t['probability'] for t in r['top']]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    from gluon_aug.results.evaluate import predict_test_set
    from gluon_aug.run.build import run_test_loader
    from gluon_aug.results.run_folder import evaluation_net, open_run
    run = open_run(run_cpu1)
    evaluated = predict_test_set(evaluation_net(run).net,
                                 run_test_loader(run.config, run.recipe, num_workers=0))
    for i, r in zip(picks, results):
        for t in r['top']:
            assert t['probability'] == pytest.approx(
                evaluated.probabilities[i, CLASSES.index(t['class'])], abs=1e-5)


@pytest.mark.skipif(not os.path.isfile(CAT), reason=f'the book photo is not at {CAT}')
def test_the_books_cat_photo_gets_three_classes(run_cpu1):
    proc = run_module('train.predict', run_cpu1, CAT)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith(CAT)
    tops = line[len(CAT):].strip().split(', ')
    assert len(tops) == 3
    assert all(t.split()[0] in CLASSES and 0 <= float(t.split()[1]) <= 1 for t in tops)


def test_help_says_what_images_work_and_a_bad_file_is_one_line(run_cpu1, tmp_path):
    proc = run_module('train.predict', '--help')
    assert 'small,\ncentred object' in proc.stdout or 'small, centred object' in proc.stdout
    assert '32x32' in proc.stdout
    good = _save(tmp_path / 'good.png', onp.zeros((32, 32, 3), onp.uint8))
    notes = tmp_path / 'notes.jpg'
    notes.write_text('not a picture')
    proc = run_module('train.predict', run_cpu1, good, str(notes))
    assert_one_line_error(proc, 'notes.jpg', 'is not a JPEG or PNG image')
    assert proc.stdout == ''   # every image is read before anything is printed


def test_the_centred_square_is_cut_before_resizing_so_extreme_shapes_stay_cheap(tmp_path):
    """1 x 500000: the centred 1 x 1 square, resized: every pixel is that pixel."""
    img = onp.zeros((1, 500000, 3), onp.uint8)
    img[0, (500000 - 1) // 2] = (10, 200, 30)
    out = read_as_cifar_image(_save(tmp_path / 'line.png', img))
    assert out.shape == (32, 32, 3) and (out == (10, 200, 30)).all()


def test_a_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    from PIL import Image
    rng = onp.random.RandomState(1)
    eight = rng.randint(0, 256, (32, 32)).astype(onp.uint8)
    wide = eight.astype(onp.uint16) * 257            # the same picture in 16 bits
    path = str(tmp_path / 'wide.png')
    Image.fromarray(wide).save(path)
    assert Image.open(path).mode.startswith('I')     # Pillow reads it as 16-bit
    out = read_as_cifar_image(path)
    assert onp.array_equal(out[..., 0], eight) and onp.array_equal(out[..., 2], eight)


@pytest.mark.parametrize('kind', ['dev-zero', 'fifo', 'folder', 'too-big'])
def test_only_regular_files_of_bounded_size_are_read(kind, tmp_path, monkeypatch):
    import gluon_aug.results.predict as predict_module
    path = tmp_path / 'x.png'
    if kind == 'dev-zero':
        path.symlink_to('/dev/zero')       # would read until memory runs out
    elif kind == 'fifo':
        os.mkfifo(path)                    # would wait for ever
    elif kind == 'folder':
        path.mkdir()
    else:
        path.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0' * 2000)
        monkeypatch.setattr(predict_module, 'MAX_BYTES', 1000)
    needle = 'more than the' if kind == 'too-big' else 'is not a regular file'
    with pytest.raises(UsageError, match=needle):
        predict_module.read_as_cifar_image(str(path))


def test_pillows_errors_read_as_text(tmp_path):
    path = tmp_path / 'broken.png'
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\x00' * 40)
    with pytest.raises(UsageError) as err:
        read_as_cifar_image(str(path))
    assert 'BytesIO' not in str(err.value) and 'broken.png' in str(err.value)
