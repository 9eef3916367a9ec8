"""Export a trained run's net: MXNet's symbol and params files, and ONNX.

    python -m train.export runs/demo --out runs/demo-export

Writes model-symbol.json and model-0000.params (load them with
gluon.SymbolBlock.imports), model.onnx when the onnx extra is installed
(pip install -e ".[onnx]") and export.json (the input the net expects, the
class names). Every file is checked against the net before it is kept.
"""
import sys

from train import cli

PROG = 'python -m train.export'
cli.library(PROG)   # the threads before MXNet loads; without MXNet one line, exit 2
from gluon_aug import export_run  # noqa: E402


def get_args_parser(add_help=True):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0], add_help=add_help)
    cli.add_run_dir(p)
    p.add_argument('--out', required=True, metavar='DIR', help='folder for the exported files')
    p.add_argument('--overwrite', action='store_true',
                   help='replace the exported files in an --out that already holds files')
    p.add_argument('--no-onnx', dest='onnx', action='store_false',
                   help='skip model.onnx even when the onnx extra is installed')
    return p


def main(argv=None):
    return cli.call(PROG, export_run, **vars(get_args_parser().parse_args(argv)))


if __name__ == '__main__':
    sys.exit(main())
