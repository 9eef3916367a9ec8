"""Every command the docs show parses with its program's own parser (issue "The front
door", part 4): a renamed or removed flag, or a script that was renamed or deleted,
fails here with the doc file, the line and the command. Nothing is run.

Collected: each ``python -m train.X ...`` and ``python scripts/Y.py ...`` (also after
a path to another Python or an environment variable) in README.md and docs/*.md, from
fenced code blocks (backslash-continued lines joined) and inline code spans (which
may wrap across lines), up to a shell operator or comment. A program name followed
by ``:`` or ``,`` is a label in prose, not a command; it is still checked by the
test of mentions below, as is every ``scripts/Y.py`` the docs name.

How a command is parsed: with ``get_args_parser()`` of train/X.py or scripts/Y.py,
as given, with three allowances, none of which lets a wrong flag through:

- a value in capitals (``DIR``, ``S``, ``RUN``, ``FILE.md``) is a placeholder, the
  metavar convention: any type or choice accepts it;
- ``[--flag VALUE]`` is an optional part: parsed as if given, without brackets;
- types that look at this machine (a CIFAR-10 folder, a file's folder, a Python
  with torch) take the value as text: the docs' paths are on the reader's machine.

A command with ``...`` as an argument is abbreviated: it is skipped, saying so.
"""
import functools
import importlib
import os
import re
import shlex
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import benchlib  # noqa: E402

DOCS = ['README.md'] + sorted(os.path.join('docs', n) for n in
                              os.listdir(os.path.join(ROOT, 'docs')) if n.endswith('.md'))
PROGRAM = r'(?:-m[ \t]+(?P<module>train\.\w+)|(?P<script>scripts/[\w-]+\.py))'
COMMAND = re.compile(r'(?<![\w.-])python3?[ \t]+' + PROGRAM + r'(?![\w.:,-])')
PLACEHOLDER = re.compile(r'[A-Z][A-Z0-9_]*(\.\w+)?')
MACHINE_TYPES = (benchlib.cifar_folder, benchlib.full_cifar_folder, benchlib.file_to_write,
                 benchlib.torch_python)
OPERATOR = set(';&|()')


def logical_lines(lines, first, last):
    """(line number, text) of the lines first..last-1 (0-based), a line ending in a
    backslash joined with the next."""
    joined, start = '', None
    for number in range(first, last):
        text = lines[number]
        start = number + 1 if start is None else start
        if text.rstrip().endswith('\\'):
            joined += text.rstrip()[:-1] + ' '
            continue
        yield start, joined + text
        joined, start = '', None
    if start is not None:
        yield start, joined


def code_texts(text):
    """(line number, text) of each code block line and inline code span of a markdown
    `text`; an inline span may wrap across lines, never across a blank line."""
    lines = text.split('\n')
    prose, fence = list(lines), None
    for number, line in enumerate(lines):
        if line.lstrip().startswith('```'):
            if fence is None:
                fence = number
            else:
                yield from logical_lines(lines, fence + 1, number)
                fence = None
            prose[number] = ''
        elif fence is not None:
            prose[number] = ''
    prose = '\n'.join(prose)
    for span in re.finditer(r'(`+)(.+?)\1', prose, re.DOTALL):
        if not re.search(r'\n\s*\n', span.group(2)):
            yield prose.count('\n', 0, span.start(2)) + 1, span.group(2)


def doc_commands(doc):
    """(doc, line, program, command, arguments) of every command in `doc`."""
    found = []
    for number, code in code_texts(open(os.path.join(ROOT, doc), encoding='utf-8').read()):
        for match in COMMAND.finditer(code):
            line = number + code.count('\n', 0, match.start())
            rest = ' '.join(code[match.end():].split())
            lexer = shlex.shlex(rest, posix=True, punctuation_chars=''.join(OPERATOR))
            lexer.whitespace_split, lexer.commenters = True, '#'
            args = []
            for token in lexer:
                if set(token) <= OPERATOR:
                    break
                args.append(token)
            command = ' '.join(match.group(0).split() + [shlex.quote(a) for a in args])
            found.append((doc, line, match.group('module') or match.group('script'),
                          command, args))
    return found


COMMANDS = [c for doc in DOCS for c in doc_commands(doc)]


@functools.lru_cache(maxsize=None)
def script_module(path):
    """scripts/Y.py as a module, not run (its ``__name__`` is not '__main__'); only the
    part before ``import torch``, which a script for a torch Python keeps free of it."""
    source = open(path, encoding='utf-8').read()
    module = type(sys)('docs_' + os.path.basename(path)[:-3])
    module.__file__ = path
    head = re.split(r'(?m)^import torch\b', source)[0]
    exec(compile(head, path, 'exec'), module.__dict__)
    return module


class Refused(Exception):
    """A parser's error."""


class Choices(list):
    """An argument's choices, which also admit a placeholder."""

    def __contains__(self, value):
        return bool(PLACEHOLDER.fullmatch(str(value))) or super().__contains__(value)


def placeholder_or(kind):
    def convert(text):
        return text if PLACEHOLDER.fullmatch(text) else kind(text)
    convert.__name__ = getattr(kind, '__name__', 'value')   # argparse's "invalid int value"
    return convert


def doc_parser(program):
    """`program`'s own parser, with the allowances of the module's docstring; a missing
    program or parser raises Refused."""
    if program.startswith('train.'):
        path = os.path.join(ROOT, 'train', program.split('.', 1)[1] + '.py')
    else:
        path = os.path.join(ROOT, program)
    if not os.path.isfile(path):
        raise Refused(f"{os.path.relpath(path, ROOT)} does not exist")
    module = (importlib.import_module(program) if program.startswith('train.')
              else script_module(path))
    if not hasattr(module, 'get_args_parser'):
        raise Refused(f"{program} has no get_args_parser()")
    parser = module.get_args_parser()
    for action in parser._actions:
        if action.type in MACHINE_TYPES:
            action.type = None
        if action.type is not None:
            action.type = placeholder_or(action.type)
        if action.choices is not None:
            action.choices = Choices(action.choices)

    def refuse(message):
        raise Refused(f"{program} refuses it: {message}")
    parser.error = refuse
    return parser


def parse(program, args):
    """Parse `args` with `program`'s parser; Refused says why it would not."""
    args = [a[1:] if a.startswith('[') else a for a in args]
    args = [a[:-1] if a.endswith(']') else a for a in args]
    doc_parser(program).parse_args(args)


@pytest.mark.parametrize('doc, line, program, command, args', COMMANDS,
                         ids=[f'{c[0]}:{c[1]}: {c[3]}' for c in COMMANDS])
def test_doc_command_parses(doc, line, program, command, args):
    where = f"{doc}, line {line}: `{command}`"
    if '...' in args:
        pytest.skip(f"{where}: abbreviated ('...' stands for arguments), nothing to parse")
    try:
        parse(program, args)
        refusal = None
    except Refused as err:
        refusal = str(err)
    if refusal:   # outside the except: the failure alone, not the exception it handled
        pytest.fail(f"{where}: {refusal}", pytrace=False)


MENTION = re.compile(r'(?<![\w./-])(?:scripts/[\w-]+\.py|python3? -m train\.\w+)')


def doc_mentions(doc):
    """(doc, line, name) of every scripts/Y.py and ``python -m train.X`` in `doc`."""
    text = open(os.path.join(ROOT, doc), encoding='utf-8').read()
    return [(doc, text.count('\n', 0, m.start()) + 1, m.group(0).split()[-1])
            for m in MENTION.finditer(text)]


MENTIONS = [m for doc in DOCS for m in doc_mentions(doc)]


@pytest.mark.parametrize('doc, line, name', MENTIONS,
                         ids=[f'{m[0]}:{m[1]}: {m[2]}' for m in MENTIONS])
def test_doc_mention_exists(doc, line, name):
    path = (os.path.join('train', name.split('.', 1)[1] + '.py') if name.startswith('train.')
            else name)
    assert os.path.isfile(os.path.join(ROOT, path)), \
        f"{doc}, line {line}: names {name}, but {path} does not exist"


def test_commands_are_collected():
    """The collection itself: the README's first command (the main job), a wrapped
    inline span, a backslash-continued block, a command behind another Python and one
    inside train.launch are all found, in the pages that show them, with the lines
    they start on."""
    found = {(doc, line, command) for doc, line, _, command, _ in COMMANDS}
    expected = [   # the page, the text of the line it starts on, the command
        ('README.md', 'python -m train.cifar --aug flip', 'python -m train.cifar --aug flip'),
        ('docs/AUGMENTATION.md', 'Each preview (`python scripts/preview_presets.py',
         'python scripts/preview_presets.py --data ../shared/data/cifar10-subset --out '
         'docs/presets'),
        ('docs/AUGMENTATION.md', 'python -m train.compare --augs none flip flip-crop --data',
         'python -m train.compare --augs none flip flip-crop --data '
         '../shared/data/cifar10-subset --model cifar_resnet20_v1 --epochs 10 --devices cpu '
         '--out runs/compare'),
        ('docs/PERFORMANCE.md', '~/torch-venv/bin/python scripts/ref_airbench94.py',
         'python scripts/ref_airbench94.py ../data/cifar10-lossless'),
        ('docs/DISTRIBUTED.md',
         'python -m train.launch -n 2 -- python -m train.cifar --kvstore dist_sync',
         'python -m train.cifar --kvstore dist_sync --data ../shared/data/cifar10-subset '
         '--model cifar_resnet20_v1 --epochs 2 -b 128 --devices cpu -j 1 --no-progress '
         '--out runs/dist'),
    ]
    for doc, anchor, command in expected:
        lines = open(os.path.join(ROOT, doc), encoding='utf-8').read().split('\n')
        line = next(n for n, text in enumerate(lines, 1) if text.lstrip().startswith(anchor))
        assert (os.path.normpath(doc), line, command) in found, (doc, line, command)


def test_a_stale_command_is_refused():
    """What the parametrized test relies on: an unknown flag, a bad choice and a missing
    script are refused; a placeholder and an optional part are not."""
    parse('train.cifar', ['--recipe', 'fast', '--seed', 'S', '[--without', 'INGREDIENT]'])
    parse('scripts/ref_airbench94.py', ['../nowhere', '--out', '../nowhere/r.json'])
    for program, args, words in [
            ('train.cifar', ['--limit-tests', '5'], ['unrecognized', '--limit-tests']),
            ('train.cifar', ['--recipe', 'slow'], ['--recipe', "'slow'"]),
            ('train.cifar', ['--epochs', 'ten'], ['--epochs', "'ten'"]),
            ('scripts/no_such.py', [], ['scripts/no_such.py does not exist'])]:
        with pytest.raises(Refused) as err:
            parse(program, args)
        assert all(w in str(err.value) for w in words), str(err.value)


def test_the_docs_index_links_every_page():
    # issue "The front door": docs/README.md indexes every page of the guide
    index = open(os.path.join(ROOT, 'docs', 'README.md')).read()
    linked = set(re.findall(r'\]\(([\w.-]+\.md)(?:#[\w-]*)?\)', index))
    pages = {os.path.basename(d) for d in DOCS if d.startswith('docs')} - {'README.md'}
    assert pages - linked == set(), f'docs/README.md does not link {sorted(pages - linked)}'
