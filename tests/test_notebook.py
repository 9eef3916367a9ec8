"""The chapter's notebook: committed without outputs, and it runs in a real Jupyter kernel.

The kernel is this Python's, started in notebooks/ with this repository first
on its PYTHONPATH, so it imports this checkout's gluon_aug whatever the
installed one is. Cells
are found by their tags (cell metadata): ``apply``, ``train``, ``budget``.
"""
import json
import os
import re
import sys
import time

import pytest

from conftest import CAT, ROOT, SUBSET

NOTEBOOK = os.path.join(ROOT, 'notebooks', 'image_augmentation.ipynb')
IMAGES = ('image/png', 'image/svg+xml')
BOOK_LINES = (r'loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}',
              r'\d+\.\d examples/sec on \[.+\]')
STRIP = 'jupyter nbconvert --clear-output --inplace notebooks/image_augmentation.ipynb'


def tagged(nb, tag):
    return [i for i, c in enumerate(nb['cells']) if tag in c.get('metadata', {}).get('tags', [])]


def test_notebook_is_committed_without_outputs():
    with open(NOTEBOOK, encoding='utf-8') as f:
        nb = json.load(f)
    dirty = [i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code'
             and (c.get('outputs') or c.get('execution_count') is not None)]
    assert not dirty, f"code cells {dirty} carry outputs or execution counts; strip them: {STRIP}"


def test_notebook_shows_every_chapter_augmenter_and_links_the_chapter():
    from gluon_aug.book.gallery import chapter_augmenters
    with open(NOTEBOOK, encoding='utf-8') as f:
        nb = json.load(f)
    assert len(tagged(nb, 'apply')) == len(chapter_augmenters())
    budget = ''.join(nb['cells'][tagged(nb, 'budget')[0]]['source'])
    assert tagged(nb, 'budget')[0] == min(i for i, c in enumerate(nb['cells'])
                                          if c['cell_type'] == 'code')
    for name in ('EPOCHS', 'LIMIT', 'MODEL'):
        assert re.search(rf'^{name} = ', budget, re.M), name
    assert "EPOCHS, LIMIT, MODEL, DATA = 10, None, 'resnet18', None" in budget
    text = ''.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    assert 'https://d2l.ai/chapter_computer-vision/image-augmentation.html' in text


@pytest.mark.skipif(not os.path.isdir(SUBSET), reason=f'the CIFAR-10 subset is not at {SUBSET}')
@pytest.mark.skipif(not os.path.isfile(CAT), reason=f'the book photo is not at {CAT}')
def test_notebook_runs_in_a_kernel_with_live_curves_and_the_books_lines(monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    messages = []   # (cell index, message type, content) of every message the kernel sends

    class Recorder(NotebookClient):
        def process_message(self, msg, cell, cell_index):
            messages.append((cell_index, msg['msg_type'], msg['content']))
            return super().process_message(msg, cell, cell_index)

    # A kernel of this Python with this checkout first on its path, found before any
    # user-wide "python3" kernel (JUPYTER_PATH is searched first).
    spec = tmp_path / 'kernels' / 'gluon-aug-test'
    spec.mkdir(parents=True)
    pythonpath = os.pathsep.join([ROOT] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    (spec / 'kernel.json').write_text(json.dumps({
        'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        'display_name': 'gluon_aug test', 'language': 'python',
        'env': {'PYTHONPATH': pythonpath}}))
    monkeypatch.setenv('JUPYTER_PATH', str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = Recorder(nb, timeout=600, kernel_name='gluon-aug-test',
                      resources={'metadata': {'path': os.path.dirname(NOTEBOOK)}})
    start = time.time()
    client.execute()   # raises CellExecutionError if any cell fails
    print(f'notebook ran in {time.time() - start:.1f} s')

    for i in tagged(nb, 'apply'):
        kinds = {k for o in nb.cells[i].outputs for k in o.get('data', {})}
        assert kinds & set(IMAGES), (i, nb.cells[i].source, kinds)

    [train] = tagged(nb, 'train')
    msgs = [(kind, content) for i, kind, content in messages if i == train]
    text = ''.join(o.get('text', '') for o in nb.cells[train].outputs)
    for line in BOOK_LINES:
        assert re.search(line, text), (line, text)
    # Live drawing: the figure is shown (or updated) several times while training,
    # each time replacing the previous one, before the closing lines are printed.
    first_line = next(k for k, (kind, content) in enumerate(msgs)
                      if kind == 'stream' and 'loss ' in content['text'])
    before = msgs[:first_line]
    drawn = [kind for kind, content in before if kind in ('display_data', 'update_display_data')
             and set(content.get('data', {})) & set(IMAGES)]
    replaced = [kind for kind, content in before if kind == 'clear_output'
                or kind == 'update_display_data']
    assert len(drawn) >= 3 and len(replaced) >= 2, [kind for kind, _ in msgs]
    errors = [(i, c['text']) for i, kind, c in messages
              if kind == 'stream' and c['name'] == 'stderr']
    assert not errors, errors
