"""What augmentation is on offer (the chapter's exercise 3), found by introspection.

Lists this package's presets with their parameters, then every transform
class that the installed MXNet's ``gluon.data.vision.transforms`` and
GluonCV's ``gluoncv.data.transforms.block`` actually define, each with the
first line of its docstring.
"""
import inspect

from .._mxnet import gluon, nn
from .presets import describe_presets


def first_line(obj):
    doc = inspect.getdoc(obj) or ''
    return doc.strip().splitlines()[0] if doc.strip() else '(no docstring)'


def transform_classes(module):
    """[(name, first docstring line)] of the public Block classes `module` defines."""
    return [(name, first_line(obj)) for name, obj in sorted(vars(module).items())
            if inspect.isclass(obj) and issubclass(obj, nn.Block)
            and obj.__module__ == module.__name__ and not name.startswith('_')]


def catalog():
    """{section title: [(name, description)]} for presets, MXNet and GluonCV."""
    sections = {'Presets (--aug NAME)': describe_presets()}
    mx_mod = gluon.data.vision.transforms
    sections[f'MXNet {mx_mod.__name__}'] = transform_classes(mx_mod)
    try:
        from gluoncv.data.transforms import block as gcv_mod
    except ImportError:
        sections['GluonCV transforms'] = [('(GluonCV is not installed)', '')]
    else:
        sections[f'GluonCV {gcv_mod.__name__}'] = transform_classes(gcv_mod)
    return sections


def format_catalog():
    lines = []
    for title, rows in catalog().items():
        lines.append(f'{title}:')
        width = max((len(n) for n, _ in rows), default=0)
        lines += [f'  {n:<{width}}  {d}' for n, d in rows]
        lines.append('')
    return '\n'.join(lines).rstrip()
