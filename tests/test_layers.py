"""The package's imports form layers (README and docs/CODE_MAP.md, "Map of the code"): a module
imports only from its own layer or those below it, and no import chain comes
back to where it started. Read from the source, nothing is imported."""
import ast
import os

import pytest

from conftest import ROOT

PACKAGE = os.path.join(ROOT, 'gluon_aug')
# bottom to top; the package's own __init__ (the public API) is above them all
LAYERS = ['core', 'augment', 'data', 'book', 'models', 'run', 'results', 'api']
CORE = {'_mxnet', '_version', 'errors', 'files', 'seeding', 'stopping'}


def modules():
    """{dotted name under gluon_aug: path}."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                rel = os.path.relpath(os.path.join(folder, f), PACKAGE)[:-3].split(os.sep)
                found['.'.join(p for p in rel if p != '__init__')] = os.path.join(folder, f)
    return found


def layer_of(module):
    if module == '':
        return 'api'
    head = module.split('.')[0]
    return 'core' if head in CORE else head


def imports_of(module, path, known):
    """The gluon_aug modules `module` imports (anywhere in its body)."""
    is_package = path.endswith('__init__.py')
    package = module.split('.') if is_package else module.split('.')[:-1]
    package = [p for p in package if p]
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = base + (node.module.split('.') if node.module else [])
            elif node.module and node.module.split('.')[0] == 'gluon_aug':
                target = node.module.split('.')[1:]
            else:
                continue
            targets = ['.'.join(target + [a.name]) for a in node.names] + ['.'.join(target)]
        elif isinstance(node, ast.Import):
            targets = ['.'.join(a.name.split('.')[1:]) for a in node.names
                       if a.name.split('.')[0] == 'gluon_aug']
        # `from .x import name`: the module x (or, for a subpackage, x.name)
        for t in targets:
            if t in known and t != module:
                out.add(t)
                break
    return out


GRAPH = None


def graph():
    global GRAPH
    if GRAPH is None:
        known = modules()
        GRAPH = {m: imports_of(m, p, known) for m, p in known.items()}
    return GRAPH


def test_every_subpackage_is_a_known_layer():
    assert {layer_of(m) for m in graph()} == set(LAYERS)


@pytest.mark.parametrize('module', sorted(modules()))
def test_imports_point_down(module):
    mine = LAYERS.index(layer_of(module))
    upward = sorted(t for t in graph()[module] if LAYERS.index(layer_of(t)) > mine)
    assert not upward, f"{module} ({layer_of(module)}) imports from above: {upward}"


def test_no_import_cycle():
    state, stack = {}, []

    def visit(m):
        state[m] = 'open'
        stack.append(m)
        for t in sorted(graph()[m]):
            if state.get(t) == 'open':
                raise AssertionError('import cycle: ' + ' -> '.join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 'done'

    for m in sorted(graph()):
        if m not in state:
            visit(m)


def test_the_checker_sees_relative_and_absolute_imports():
    g = graph()
    assert 'data.cifar' in g['book.ch13']          # from ..data.cifar import ...
    assert 'book.devices' in g['book.ch13']        # from .devices import ...
    assert 'run.cifar' in g['']                    # the public API
