"""python -m train.predict: any JPEG or PNG to 32x32, the top 3 classes, the same answer
as the evaluation for a test image, and one line for a file that is not an image or
would decode to more than MAX_DECODED."""
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

import numpy as onp
import pytest

from gluon_aug.data.cifar import CLASSES, read_cifar_bin
from gluon_aug.errors import UsageError
from gluon_aug.results.evaluate import evaluate_run
from gluon_aug.results.predict import read_as_cifar_image
from train import predict

from conftest import CAT, ROOT, assert_one_line_error, run_module


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


@pytest.mark.parametrize('orientation, turn', [(3, 2), (6, -1), (8, 1)])
def test_a_phones_rotation_is_undone(orientation, turn, tmp_path):
    """A PNG whose EXIF orientation says "turn me": the pixels of the turned picture
    (numpy's rot90) saved without the tag."""
    from PIL import Image
    picture = onp.random.RandomState(orientation).randint(0, 256, (40, 70, 3)).astype(
        onp.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation   # Orientation
    tagged = str(tmp_path / 'tagged.png')
    Image.fromarray(picture).save(tagged, exif=exif.tobytes())
    turned = _save(tmp_path / 'turned.png', onp.ascontiguousarray(onp.rot90(picture, turn)))
    assert onp.array_equal(read_as_cifar_image(tagged), read_as_cifar_image(turned))
    assert not onp.array_equal(read_as_cifar_image(tagged), read_as_cifar_image(
        _save(tmp_path / 'plain.png', picture)))


@pytest.mark.parametrize('mode, shape', [('RGB', (61, 45, 3)), ('L', (40, 77)),
                                         ('P', (50, 50)), ('1', (33, 90)),
                                         ('RGBA', (70, 36, 4)), ('I;16', (47, 64))])
def test_converting_a_strip_at_a_time_gives_the_pixels_of_one_conversion(mode, shape,
                                                                         tmp_path,
                                                                         monkeypatch):
    """Strips of 7 rows (not a divisor of the square's side): the pixels of converting
    the whole image to RGB, cutting its centred square and resizing it in one go."""
    from PIL import Image
    import gluon_aug.results.predict as predict_module
    monkeypatch.setattr(predict_module, 'STRIP', 7)
    rng = onp.random.RandomState(len(mode))
    if mode == 'I;16':
        wide = rng.randint(0, 65536, shape).astype(onp.uint16)
        whole = Image.fromarray(((wide.astype(onp.uint64) * 255 + 32767) // 65535)
                                .astype(onp.uint8)).convert('RGB')
        img = Image.fromarray(wide)
    else:
        img = Image.fromarray(rng.randint(0, 256, shape).astype(onp.uint8))
        img = img.quantize(256) if mode == 'P' else img.convert(mode)
        whole = img.convert('RGB')
    path = str(tmp_path / 'x.png')
    img.save(path)
    assert Image.open(path).mode == mode
    w, h = whole.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    expected = onp.asarray(whole.crop(box).resize((32, 32), Image.Resampling.BOX))
    assert onp.array_equal(read_as_cifar_image(path), expected)


# -- decompression bombs: a small file that claims a huge image -----------------------------

def _png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}   # the PNG spec's colour types: grey, RGB,
                                                 # palette, grey+alpha, RGBA


def _write_png(path, width, height, bit_depth=8, colour=0, row=None, pixels=True):
    """A PNG written by hand, its rows compressed one at a time, so that a 13000x13000
    16-bit image (a file of 329 KB) is never whole in memory here. `row(y)` gives row
    y's bytes (default zeros); without `pixels` the file has no pixel data (a header
    is all that a check before decoding may read)."""
    length = (width * PNG_CHANNELS[colour] * bit_depth + 7) // 8
    zeros = bytes(length)
    packer = zlib.compressobj(9)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n')
        f.write(_png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, bit_depth, colour,
                                                0, 0, 0)))
        if colour == 3:
            f.write(_png_chunk(b'PLTE', bytes(3 * 2 ** bit_depth)))   # all black
        data = []
        for y in range(height if pixels else 0):
            data.append(packer.compress(b'\0' + (zeros if row is None else row(y))))
        f.write(_png_chunk(b'IDAT', b''.join(data) + packer.flush()))
        f.write(_png_chunk(b'IEND', b''))
    return str(path)


def _write_jpeg(path, mode, width, height):
    """A JPEG of `mode` whose header (SOF0) claims width x height: a 16x16 one, patched."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.new(mode, (16, 16)).save(buffer, 'JPEG')
    data = bytearray(buffer.getvalue())
    sof = data.index(b'\xff\xc0')
    data[sof + 5:sof + 9] = struct.pack('>HH', height, width)
    path.write_bytes(bytes(data))
    return str(path)


# (name, writer of a width x height file); the bytes a pixel takes decoded are measured
# on a small file of the same kind, decoded by Pillow
BOMB_KINDS = {
    '1-bit grey PNG': lambda p, w, h, **kw: _write_png(p, w, h, 1, 0, **kw),
    '8-bit grey PNG': lambda p, w, h, **kw: _write_png(p, w, h, 8, 0, **kw),
    '16-bit grey PNG': lambda p, w, h, **kw: _write_png(p, w, h, 16, 0, **kw),
    'palette PNG': lambda p, w, h, **kw: _write_png(p, w, h, 8, 3, **kw),
    '4-bit palette PNG': lambda p, w, h, **kw: _write_png(p, w, h, 4, 3, **kw),
    'grey+alpha PNG': lambda p, w, h, **kw: _write_png(p, w, h, 8, 4, **kw),
    '8-bit RGB PNG': lambda p, w, h, **kw: _write_png(p, w, h, 8, 2, **kw),
    '16-bit RGB PNG': lambda p, w, h, **kw: _write_png(p, w, h, 16, 2, **kw),
    '16-bit RGBA PNG': lambda p, w, h, **kw: _write_png(p, w, h, 16, 6, **kw),
    'grey JPEG': lambda p, w, h, **kw: _write_jpeg(p, 'L', w, h),
    'RGB JPEG': lambda p, w, h, **kw: _write_jpeg(p, 'RGB', w, h),
    'CMYK JPEG': lambda p, w, h, **kw: _write_jpeg(p, 'CMYK', w, h),
}


def _decoded_bytes_per_pixel(kind, tmp_path):
    """What Pillow decodes one pixel of `kind` to, measured on a 5x3 file."""
    from PIL import Image
    path = BOMB_KINDS[kind](tmp_path / 'small', 5, 3)
    with Image.open(path) as img:
        return onp.asarray(img).nbytes // 15


@pytest.mark.parametrize('kind', sorted(BOMB_KINDS))
def test_an_image_that_decodes_past_the_limit_is_refused_from_its_header(kind, tmp_path,
                                                                          monkeypatch):
    """One row more than MAX_DECODED holds is refused, naming the file, its size and the
    limit, before Pillow decodes a pixel and without Pillow's warning; with one row fewer
    Pillow is asked to decode."""
    from PIL import Image, ImageFile
    import gluon_aug.results.predict as predict_module
    limit = predict_module.MAX_DECODED
    per_pixel = _decoded_bytes_per_pixel(kind, tmp_path)
    width = 12000
    rows = limit // (width * per_pixel)   # the most rows that fit
    over = BOMB_KINDS[kind](tmp_path / 'over', width, rows + 1, pixels=False)
    under = BOMB_KINDS[kind](tmp_path / 'under', width, rows, pixels=False)

    def decode(*args):
        raise AssertionError('Pillow decoded the image')
    monkeypatch.setattr(ImageFile.ImageFile, 'load', decode)
    pillows_limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        with pytest.raises(UsageError) as err:
            read_as_cifar_image(over)
    assert [str(w.message) for w in seen] == []
    assert Image.MAX_IMAGE_PIXELS == pillows_limit   # Pillow's own setting is restored
    message = str(err.value)
    assert repr(over) in message and f'{width}x{rows + 1}' in message, message
    assert f' {limit / 2 ** 20:g} MiB' in message, message
    shown = float(re.search(r'([0-9.]+) MiB decoded', message).group(1))
    size = width * (rows + 1) * per_pixel / 2 ** 20
    assert size <= shown < size + 0.1 and shown > limit / 2 ** 20, message
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        with pytest.raises(AssertionError, match='Pillow decoded'):
            read_as_cifar_image(under)   # it fits
    assert [str(w.message) for w in seen] == []


def _predict_measured(*args, timeout=600):
    """Run python -m train.predict `args`: (CompletedProcess, the child's peak resident
    memory in bytes, from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, '-m', 'train.predict', *args], cwd=ROOT,
                                stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(proc.args, proc.returncode,
                                           out.read().decode(), err.read().decode())
    return done, usage.ru_maxrss * 1024   # Linux counts KiB


def _half_white(side):
    """A side x side 8-bit RGB picture: its top half white, the rest black."""
    img = onp.zeros((side, side, 3), onp.uint8)
    img[:side // 2] = 255
    return img


@pytest.fixture(scope='module')
def small_prediction(run_cpu1, tmp_path_factory):
    """predict on a 32x32 picture (top half white): (its output, its peak memory)."""
    path = _save(tmp_path_factory.mktemp('small') / 'half.png', _half_white(32))
    proc, peak = _predict_measured(run_cpu1, path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split(None, 1)[1], peak


@pytest.mark.parametrize('kind, width, height', [
    ('16-bit grey PNG', 13000, 13000),   # the file: 329 KB, 322 MiB decoded
    ('1-bit grey PNG', 16385, 16385),    # a byte a pixel decoded, 34 KB
    ('8-bit grey PNG', 16385, 16385),
    ('8-bit RGB PNG', 9500, 9500)])
def test_predict_refuses_a_decompression_bomb_in_one_line_and_little_memory(
        kind, width, height, run_cpu1, small_prediction, tmp_path):
    """A real bomb (valid pixels, all zero): exit 2, one line naming the file, its size
    and the limit, no warning, and no more memory than predicting a 32x32 image."""
    path = BOMB_KINDS[kind](tmp_path / 'bomb.png', width, height)
    assert os.path.getsize(path) < 2 ** 20
    proc, peak = _predict_measured(run_cpu1, path)
    assert_one_line_error(proc, path, f'{width}x{height}', 'MiB decoded', 'MiB limit')
    assert 'Warning' not in proc.stderr and proc.stdout == ''
    assert peak < small_prediction[1] + 32 * 2 ** 20, (peak, small_prediction[1])


def test_an_image_just_under_the_limit_is_read_with_bounded_memory(run_cpu1, small_prediction,
                                                                    tmp_path):
    """A 16-bit grey PNG of 11585x11585 (just under MAX_DECODED), its top half white:
    the same classes and probabilities as the 32x32 picture it shrinks to, and predict
    holds no more than twice the decoded image on top of a 32x32 prediction."""
    import gluon_aug.results.predict as predict_module
    side = int((predict_module.MAX_DECODED // 2) ** 0.5)
    assert side * side * 2 <= predict_module.MAX_DECODED < (side + 1) ** 2 * 2
    white = b'\xff' * (2 * side)
    path = _write_png(tmp_path / 'big.png', side, side, 16, 0,
                      row=lambda y: white if y < side // 2 else bytes(2 * side))
    proc, peak = _predict_measured(run_cpu1, path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(None, 1) == [path, small_prediction[0]]
    assert peak < small_prediction[1] + 2 * side * side * 2, (peak, small_prediction[1])
