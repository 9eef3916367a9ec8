"""docs/COMMAND_LINE.md agrees with the code (issue "The front door", part 3): its
generated section is what scripts/flag_reference.py renders now from RunConfig and the
entry points' parsers, what it says of each setting's modes is what ``check_book`` and
``resume_view`` do, and ``--check`` names the first line of a stale page.
"""
import dataclasses
import importlib
import os
import re
import shutil
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import flag_reference  # noqa: E402

from gluon_aug.errors import UsageError  # noqa: E402
from gluon_aug.models.fastnet import FASTNETS  # noqa: E402
from gluon_aug.run.config import (check_book, config_fields, flag_of, resume_view,  # noqa: E402
                                  RunConfig)

REGENERATE = 'run python scripts/flag_reference.py'


@pytest.fixture(scope='module')
def rendered():
    return flag_reference.render()


def page_parts(path=flag_reference.PAGE):
    return flag_reference.split_page(open(path, encoding='utf-8').read())


def section_of(rendered, prog):
    """The part of the rendered section under ``## prog``."""
    return rendered.split(f'## {prog}\n', 1)[1].split('\n## ', 1)[0]


def cells(row):
    return [c.strip() for c in re.split(r'(?<!\\)\|', row)[1:-1]]


def test_page_is_current(rendered):
    parts = page_parts()
    assert parts, f'docs/COMMAND_LINE.md lacks its generated section; {REGENERATE}'
    stale = flag_reference.first_difference(parts[1], rendered, parts[0].count('\n') + 1)
    assert stale is None, f'docs/COMMAND_LINE.md is stale at {stale}; {REGENERATE}'


def test_every_setting_has_its_row_and_its_modes(rendered):
    """One row per RunConfig field, in order; `--book` is named where check_book takes a
    value other than the default, "must match" where resume_view compares the field."""
    table = [r for r in section_of(rendered, 'python -m train.cifar').split('\n\n')
             if r.startswith('| flag |')][0]
    rows = [cells(r) for r in table.split('\n')[2:]]
    fields = config_fields()
    assert len(rows) == len(fields)
    compared = resume_view(RunConfig())
    for field, (flag, _, modes, _) in zip(fields, rows):
        name = field.name
        assert f'`{flag_of(name) if field.metadata["flags"] else name}`' in flag, (name, flag)
        if name in ('book', 'resume'):
            assert modes == f'`--{name}` (the mode itself); not with `--' \
                f'{"resume" if name == "book" else "book"}`', (name, modes)
            with pytest.raises(UsageError, match='--resume'):
                check_book(RunConfig(book=True, resume='runs/x'))
            continue
        try:
            check_book(dataclasses.replace(RunConfig(book=True), **{name: object()}))
            book = True
        except UsageError:
            book = False
        assert modes.startswith('default'), (name, modes)
        assert ('`--book`' in modes) == book, (name, modes)
        assert ('`--resume`: must match' in modes) == (name in compared), (name, modes)
    model = dict((r[0].split()[0], r[2]) for r in rows)['`--model`']
    for net in FASTNETS:
        assert net in model
        with pytest.raises(UsageError, match=net):
            check_book(RunConfig(book=True, model=net))


@pytest.mark.parametrize('entry', ['cifar'] + list(flag_reference.ENTRY_POINTS))
def test_every_argument_is_on_the_page(rendered, entry):
    parser = importlib.import_module(f'train.{entry}').get_args_parser()
    own = section_of(rendered, parser.prog)
    settings = section_of(rendered, 'python -m train.cifar')

    def shown(section):   # the flags and positionals the first column names
        return {code.split()[0] for row in section.split('\n') if row.startswith('| ')
                for code in re.findall(r'`([^`]+)`', cells(row)[0])}
    for action in flag_reference.arguments(parser):
        where = settings if flag_reference.from_settings(parser, action) else own
        names = action.option_strings or [action.metavar or action.dest]
        assert set(names) <= shown(where), (parser.prog, names)


def test_check_names_the_first_difference_and_writing_mends_it(tmp_path, capsys, rendered):
    page = str(tmp_path / 'COMMAND_LINE.md')
    head, _, tail = page_parts()
    planted = rendered.replace('`--limit-test`', '`--limit-tests`', 1)
    assert planted != rendered
    line = (head + planted).split('\n').index(next(
        r for r in planted.split('\n') if '--limit-tests' in r)) + 1
    with open(page, 'w', encoding='utf-8') as f:
        f.write('hand-written prose\n' + head + planted + tail)
    capsys.readouterr()
    assert flag_reference.main(['--check', '--page', page]) == 1
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and f'at line {line + 1}:' in out and '--limit-tests' in out \
        and REGENERATE in out, out
    assert flag_reference.main(['--page', page]) == 0
    assert open(page, encoding='utf-8').read() == 'hand-written prose\n' + head + rendered + tail
    assert flag_reference.main(['--check', '--page', page]) == 0
    assert capsys.readouterr().out == ''


def test_a_page_without_its_section_is_refused(tmp_path, capsys):
    page = str(tmp_path / 'COMMAND_LINE.md')
    shutil.copy(os.path.join(ROOT, 'README.md'), page)
    assert flag_reference.main(['--check', '--page', page]) == 1
    assert flag_reference.main(['--page', page]) == 2   # its prose is not overwritten
    err = capsys.readouterr().err
    assert err.count('\n') == 2 and 'lacks the markers' in err, err
    assert open(page, encoding='utf-8').read() == open(os.path.join(ROOT, 'README.md')).read()


def test_readme_points_to_the_page_and_names_real_flags():
    """The README's short table of the most used flags (after its pointer to the page)
    names at most 8 rows, each of flags that train.cifar has."""
    readme = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    after = readme.split('](docs/COMMAND_LINE.md)', 1)[1]
    table = after.split('\n\n', 2)[1].split('\n')
    assert table[0].startswith('| flag |') and 1 <= len(table) - 2 <= 8, table
    parser = importlib.import_module('train.cifar').get_args_parser()
    known = {f for a in parser._actions for f in a.option_strings}
    for row in table[2:]:
        flags = re.findall(r'(?<![\w-])(--?[a-z][\w-]*)', cells(row)[0])
        assert flags and set(flags) <= known, row
