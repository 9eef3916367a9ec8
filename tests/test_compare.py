"""`python -m train.compare` and `--list-augs` end to end."""
import os

from conftest import assert_one_line_error, make_cifar_folder, read_json, run_module

TINY = ['--model', 'cifar_resnet20_v1', '--epochs', '2', '--batch-size', '16',
        '--devices', 'cpu', '--num-workers', '0', '--no-progress', '--seed', '1']


def test_compare_writes_table_json_and_figure_with_one_row_per_preset(tmp_path):
    data = str(tmp_path / 'data')
    make_cifar_folder(data, n_train=(32,), n_test=16)
    out = tmp_path / 'cmp'
    proc = run_module('train.compare', '--augs', 'none', 'flip-crop', '--data', data,
                      '--out', str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert {'compare.md', 'compare.json', 'compare.png', 'none', 'flip-crop'} <= \
        set(os.listdir(out))
    result = read_json(out / 'compare.json')
    assert [r['preset'] for r in result['rows']] == ['none', 'flip-crop']
    assert result['config']['seed'] == 1 and result['config']['aug'] == ['none', 'flip-crop']
    for row in result['rows']:
        assert abs(row['gap'] - (row['train_acc'] - row['test_acc'])) < 1e-12
        per_run = read_json(out / row['preset'] / 'metrics.json')
        assert per_run['final']['test_acc'] == row['test_acc']
        assert per_run['config']['seed'] == 1
    md = (out / 'compare.md').read_text()
    table_rows = [l for l in md.splitlines() if l.startswith('| none') or
                  l.startswith('| flip-crop')]
    assert len(table_rows) == 2
    assert 'model=cifar_resnet20_v1' in md and 'seed=1' in md and 'gap' in md
    assert table_rows[0] in proc.stdout and table_rows[1] in proc.stdout
    assert (out / 'compare.png').read_bytes()[:4] == b'\x89PNG'
    # a second comparison into the same folder is refused, the first one kept
    proc = run_module('train.compare', '--augs', 'none', '--data', data, '--out', str(out),
                      *TINY)
    assert_one_line_error(proc, 'already holds a comparison')
    assert read_json(out / 'compare.json') == result


def test_compare_rejects_unknown_and_repeated_presets(tmp_path):
    proc = run_module('train.compare', '--augs', 'none', 'blur', '--out', str(tmp_path / 'o'))
    assert_one_line_error(proc, "invalid choice: 'blur'")
    proc = run_module('train.compare', '--augs', 'flip', 'flip', '--out', str(tmp_path / 'o'),
                      '--devices', 'cpu')
    assert_one_line_error(proc, 'names a preset twice')
    assert not (tmp_path / 'o').exists()


def test_list_augs_lists_presets_and_classes_that_exist():
    proc = run_module('train.cifar', '--list-augs')
    assert proc.returncode == 0, proc.stderr
    from gluon_aug import PRESETS
    from gluon_aug._mxnet import gluon
    T = gluon.data.vision.transforms
    lines = proc.stdout.splitlines()
    for name in PRESETS:
        assert any(l.split()[:1] == [name] for l in lines), name
    section = lines.index('MXNet mxnet.gluon.data.vision.transforms:')
    listed = []
    for line in lines[section + 1:]:
        if not line.strip():
            break
        listed.append(line.split()[0])
    assert {'RandomFlipLeftRight', 'RandomResizedCrop', 'RandomColorJitter'} <= set(listed)
    assert all(hasattr(T, n) for n in listed)
    assert any(l.startswith('GluonCV') for l in lines)


def test_compare_run_that_diverges_is_one_line_exit_1(tmp_path):
    data = str(tmp_path / 'data')
    make_cifar_folder(data, n_train=(32,), n_test=16)
    proc = run_module('train.compare', '--augs', 'none', '--data', data, '--out',
                      str(tmp_path / 'cmp'), *TINY, '--lr', '1e38')
    assert proc.returncode == 1, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr
    assert 'the training loss became nan' in lines[0]


def test_compare_book_runs_each_arm_through_the_books_train_with_data_aug(tmp_path):
    """Exercise 1 on the chapter's own path: every arm is run_book (imperative net,
    the book's load_cifar10, train_ch13's printed lines), unseeded as the book."""
    data = str(tmp_path / 'data')
    make_cifar_folder(data, n_train=(32,), n_test=16)
    out = tmp_path / 'cmp'
    tiny = [a for a in TINY if a not in ('--seed', '1', '--no-progress')]
    proc = run_module('train.compare', '--book', '--augs', 'none', 'flip', '--data', data,
                      '--out', str(out), *tiny)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('examples/sec on [cpu(0)]') == 2   # train_ch13's line, per arm
    for arm in ('none', 'flip'):
        config = read_json(out / arm / 'metrics.json')['config']
        assert config['book'] and config['seed'] is None and config['aug'] == arm
        assert not (out / arm / 'checkpoint.npz').exists()     # no default-mode machinery
    assert "through the book's train_with_data_aug" in (out / 'compare.md').read_text()
    # --book refuses what would change the book's path, before any training
    proc = run_module('train.compare', '--book', '--augs', 'none', '--data', data,
                      '--out', str(tmp_path / 'x'), *tiny, '--seed', '3')
    assert_one_line_error(proc, '--book runs the chapter', '--seed')
