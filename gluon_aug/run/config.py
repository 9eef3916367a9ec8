"""Every setting of one training run, with its default, written once: ``RunConfig``.

The command line (``python -m train.cifar``) builds its flags, defaults and
help from these fields (``add_arguments``); ``run_cifar(config)`` takes one;
``metrics.json`` stores ``asdict(config)``. Each field's metadata says

- ``flags``: its command-line flags (none: set from the library only);
- ``resume``: a resumed run must match the checkpoint's value (it changes
  what the next step computes);
- ``describe``: ``train.compare`` names it in the comparison's description;
- ``book``: ``--book`` accepts it, because it only sets what the chapter's
  code is given (the data, the budget, the devices, the augmentation, the net).
"""
import dataclasses
from dataclasses import dataclass, field

from ..augment.batch.presets import check_batch_preset
from ..augment.presets import PRESETS
from ..errors import UsageError
from ..files import check_mxnet_path
from ..models.fastnet import FASTNETS
from ..models.precision import DTYPES, check_bf16_cpu
from .distributed import check_kvstore, KVSTORES
from .recipes import INGREDIENTS, OVERRIDABLE, Recipe, recipe_of, RECIPES


def recipes_value(name):
    """"the recipe's: 10 (book), ... (fast)": a help text from the recipes themselves."""
    return "the recipe's: " + ', '.join(f'{getattr(r, name)} ({r.name})'
                                       for r in RECIPES.values())


def setting(default, help, flags=(), *, resume=False, describe=False, book=False,
            default_text=None, **argparse_kwargs):
    """A dataclass field carrying its command-line form and its roles."""
    return field(default=default, metadata={
        'help': help, 'flags': tuple(flags), 'resume': resume, 'describe': describe,
        'book': book, 'default_text': default_text, 'argparse': argparse_kwargs})


@dataclass
class RunConfig:
    """One training run (``python -m train.cifar``; defaults: the book's experiment).

    `model`, `epochs`, `batch_size`, `lr` and `optimizer` left at None take
    the recipe's values: ``settle(config)`` fills them, once, at the entry point."""
    # -- how: the recipe and its ingredients
    recipe: str = setting('book', "the training recipe: book (the chapter's), fast "
                          "(airbench's ideas), fast94 (the same at airbench94's size) or "
                          "fast94-muon (airbench94_muon's: Muon, 8 epochs); for the fast "
                          "ones --model, --epochs, -b, --lr override their values",
                          ('--recipe',), resume=True, describe=True, choices=tuple(RECIPES))
    without: tuple = setting((), "switch these ingredients of a fast recipe off "
                             "(ablations)",
                             ('--without',), resume=True, describe=True, nargs='+',
                             choices=tuple(INGREDIENTS), metavar='INGREDIENT',
                             default_text='none; ' + ', '.join(INGREDIENTS))
    # -- what is trained
    aug: str = setting(None, "augmentation preset for training (the book's train_augs is "
                       "flip; none = ToTensor only; --list-augs describes them); with "
                       "a fast recipe it replaces the recipe's alternating flips "
                       "and shifts, per sample", ('--aug',), resume=True, book=True,
                       choices=tuple(PRESETS),
                       default_text="flip; with a fast recipe, the recipe's own")
    aug_backend: str = setting('sample', "where --aug runs: sample = per image in the loader "
                               "(the book's), batch = per device shard inside the training "
                               "step, batched (gluon_aug.augment.batch.blocks)", ('--aug-backend',),
                               resume=True, choices=('sample', 'batch'))
    dtype: str = setting('float32', "compute convolutions and dense layers in this type; "
                         "bfloat16 keeps float32 master weights and needs AVX-512 (fast with "
                         "AVX512_BF16 or AMX, which train.cifar switches on)", ('--dtype',),
                         resume=True, describe=True, choices=DTYPES)
    mixup: float = setting(0.0, "MixUp each batch in the training step with lambda ~ "
                           "Beta(A, A) (1.0: the paper's CIFAR setting; 0: off)", ('--mixup',),
                           resume=True, describe=True, type=float, metavar='A')
    cutmix: float = setting(0.0, "CutMix each batch in the training step with lambda ~ "
                            "Beta(A, A) (1.0: the paper's; 0: off; with --mixup, each batch "
                            "takes one of the two; the authors' CIFAR example mixes half the "
                            "batches)", ('--cutmix',), resume=True, describe=True,
                            type=float, metavar='A')
    normalize: bool = setting(False, "standardize with CIFAR-10's channel mean and std (train "
                              "and test)", ('--normalize',), resume=True, describe=True,
                              action='store_true')
    model: str = setting(None, "resnet18 (d2l), fastnet, or a GluonCV CIFAR model such as "
                         "cifar_resnet20_v1", ('--model',), resume=True, describe=True, book=True,
                         default_text=recipes_value('model'))
    optimizer: str = setting(None, "the Trainer's optimizer", resume=True, describe=True)
    # -- the budget
    epochs: int = setting(None, 'epochs', ('--epochs',), describe=True, book=True, type=int,
                          default_text=recipes_value('epochs'))
    batch_size: int = setting(None, 'batch size, split across devices; with a dist_* '
                              '--kvstore it is per worker: the global batch is this x workers',
                              ('-b', '--batch-size'), resume=True, describe=True, book=True,
                              type=int, default_text=recipes_value('batch_size'))
    lr: float = setting(None, 'learning rate (the peak, with a schedule)', ('--lr',),
                        resume=True, describe=True, book=True, type=float,
                        default_text=recipes_value('lr'))
    # -- where
    devices: str = setting(None, 'gpu (all), gpu:N (first N), gpu:0,1, gpu(3), cpu, cpu:N '
                           '(N CPU contexts)', ('--devices',), resume=True, describe=True,
                           book=True, default_text='all GPUs, else cpu')
    kvstore: str = setting('device', "gluon.Trainer's kvstore; dist_sync, dist_device_sync, "
                           "dist_async train data-parallel across processes or machines: "
                           "start them with python -m train.launch -n WORKERS -- python -m "
                           "train.cifar ... (docs/DISTRIBUTED.md)", ('--kvstore',),
                           resume=True, choices=KVSTORES)
    hybridize: bool = setting(True, "don't compile the net (hybridize with static_alloc and "
                              "static_shape); the book runs it imperatively",
                              ('--no-hybridize',), resume=True, book=True,
                              action='store_false')   # --book: imperative either way
    # -- the data
    # not `resume`: a checkpoint records the files' sizes and SHA-1, so a moved copy resumes
    data: str = setting(None, 'folder with data_batch_*.bin and test_batch.bin',
                        ('--data',), describe=True, book=True, metavar='DIR',
                        default_text="Gluon's $MXNET_HOME/datasets/cifar10, downloaded if "
                                     "needed")
    limit_train: int = setting(None, 'use only the first N training examples',
                               ('--limit-train',), resume=True, describe=True, book=True,
                               type=int, metavar='N', default_text='all')
    limit_test: int = setting(None, 'use only the first N test examples', ('--limit-test',),
                              resume=True, describe=True, book=True, type=int, metavar='N',
                              default_text='all')
    num_workers: int = setting(None, 'DataLoader worker processes (0: load in this process)',
                               ('-j', '--num-workers'), describe=True, book=True, type=int,
                               default_text="get_dataloader_workers(): 4, as the book")
    thread_pool: bool = setting(False, 'load with threads instead of worker processes (no '
                                'shared memory); the threads take turns augmenting, since '
                                'the seeded generators are shared', ('--thread-pool',),
                                action='store_true')
    loader_timeout: float = setting(120.0, 'seconds a loader worker may take for a batch '
                                    'before the run stops with an error',
                                    ('--loader-timeout',), type=float, metavar='S')
    seed: int = setting(None, 'random seed', ('--seed',), resume=True, describe=True, type=int,
                        default_text='drawn, and recorded in metrics.json')
    # -- output
    out: str = setting(None, 'write metrics.json, curves.png, model.params and the '
                       'checkpoint here (refuses a folder holding a previous run unless '
                       '--overwrite)', ('--out',), book=True, metavar='DIR',
                       default_text='none')
    overwrite: bool = setting(False, 'allow --out to replace a previous run', ('--overwrite',),
                              book=True, action='store_true')
    resume: str = setting(None, 'continue the run whose --out was DIR from its last '
                          'checkpoint, with the settings it recorded (flags given beside it '
                          'must agree with them, but for --epochs, --data and how it loads); '
                          'the result is bitwise identical to an uninterrupted run',
                          ('--resume',), metavar='DIR')
    checkpoint_every: int = setting(None, 'with --out, also checkpoint every N batches',
                                    ('--checkpoint-every',), type=int, metavar='N',
                                    default_text='each epoch')
    eval_every: int = setting(1, 'evaluate on the test set after every Nth epoch and after '
                              'the last (0: after the last only); the epochs between record '
                              'no test accuracy (a fast recipe\'s evaluations take 2-3 percent of '
                              'its wall time: docs/TIME_TO_ACCURACY.md)', ('--eval-every',),
                              type=int, metavar='N')
    progress: bool = setting(True, 'hide the progress bar', ('--no-progress',), book=True,
                             action='store_false')
    book: bool = setting(False, "run the chapter's code path and nothing else: imperative "
                         "net, transform_first + shuffling DataLoader, train_ch13 as written; "
                         "no seed, checkpoint or progress bar", ('--book',),
                         action='store_true')


def config_fields(role=None):
    """RunConfig's fields, or those whose metadata has `role` (resume, describe, book)."""
    return [f for f in dataclasses.fields(RunConfig) if role is None or f.metadata[role]]


def flag_of(name):
    """The long command-line flag of field `name` (its name, if it has none)."""
    meta = RunConfig.__dataclass_fields__[name].metadata
    longs = [f for f in meta['flags'] if f.startswith('--')]
    return longs[0] if longs else name


def add_arguments(parser, skip=()):
    """Add a flag for every RunConfig field that has one (but `skip`), with its
    default and help; ``config_from_args`` turns the parsed flags back."""
    for f in config_fields():
        meta = f.metadata
        if f.name in skip or not meta['flags']:
            continue
        kwargs = dict(meta['argparse'])
        shown = meta['default_text'] or f.default
        if kwargs.get('action') not in ('store_true', 'store_false'):
            meta_help = f"{meta['help']} (default: {shown})"
        else:
            meta_help = meta['help']
        parser.add_argument(*meta['flags'], dest=f.name, default=f.default, help=meta_help,
                            **kwargs)


def config_from_args(args, **extra):
    """A RunConfig from parsed flags (fields without a flag keep their defaults)."""
    given = {f.name: getattr(args, f.name) for f in config_fields() if hasattr(args, f.name)}
    return RunConfig(**given, **extra)


def describe_config(config, relative_to=None):
    """'model=..., epochs=..., ...': the fields marked `describe`, paths relative."""
    import os
    values = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    parts = []
    for f in config_fields('describe'):
        value = values.get(f.name)
        if f.name == 'data' and value:
            value = os.path.relpath(value, relative_to or os.getcwd())
        parts.append(f'{f.name}={value}')
    return ', '.join(parts)


def _check_positive(name, value, kind=int):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value \
            or value <= 0 or (kind is int and int(value) != value) \
            or value in (float('inf'), float('-inf')):
        what = 'a positive integer' if kind is int else 'a positive number'
        raise UsageError(f"{flag_of(name)} must be {what}, got {value!r}")


def check_config(config):
    """Raise UsageError naming the first bad setting, as given (None: left to the
    recipe); touches no file or device. Runs before the recipe is applied, so an
    unknown recipe is an error, never a fallback."""
    for f in config_fields():
        choices, value = f.metadata['argparse'].get('choices'), getattr(config, f.name)
        for v in (value if isinstance(value, (tuple, list)) else [value]):
            if choices and v is not None and v not in choices:
                raise UsageError(f"{flag_of(f.name)} {v!r} is not one of: {', '.join(choices)}")
    for name, kind in (('epochs', int), ('batch_size', int), ('lr', float),
                       ('limit_train', int), ('limit_test', int), ('checkpoint_every', int)):
        if getattr(config, name) is not None:   # None: the recipe's value, or all
            _check_positive(name, getattr(config, name), kind)
    _check_positive('loader_timeout', config.loader_timeout, kind=float)
    if config.dtype == 'bfloat16':
        check_bf16_cpu()
    for name in ('mixup', 'cutmix'):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value < float('inf'):
            raise UsageError(f"{flag_of(name)} must be 0 (off) or a positive number, "
                             f"got {value!r}")
    if config.seed is not None and (type(config.seed) is not int
                                    or not 0 <= config.seed < 2 ** 32):
        raise UsageError(f"--seed must be an integer from 0 to {2 ** 32 - 1}, got "
                         f"{config.seed!r}")
    if config.num_workers is not None and (not isinstance(config.num_workers, int)
                                           or isinstance(config.num_workers, bool)
                                           or config.num_workers < 0):
        raise UsageError(f"--num-workers must be 0 or more, got {config.num_workers!r}")
    if type(config.eval_every) is not int or config.eval_every < 0:
        raise UsageError(f"--eval-every must be 0 (the last epoch only) or a positive "
                         f"integer, got {config.eval_every!r}")
    if config.aug_backend == 'batch' and config.aug is not None:   # None: flip, which has one
        check_batch_preset(config.aug)
    recipe = RECIPES[config.recipe]
    if config.without and recipe.name == 'book':
        raise UsageError("--without switches off ingredients of --recipe fast; the book "
                         "recipe has none: drop --without, or add --recipe fast")
    for name in config.without:
        if recipe.without(name) == recipe:
            raise UsageError(f"--recipe {recipe.name} has no {name} ingredient to switch off; "
                             f"drop it from --without")
    if recipe.loader == 'array':
        if config.normalize:
            raise UsageError(f"--recipe {recipe.name} standardizes on its own; drop "
                             f"{flag_of('normalize')}")
        if config.aug_backend == 'batch' and config.aug is None:
            raise UsageError(f"--recipe {recipe.name}'s own flips and shifts run on whole "
                             "batches already; --aug-backend batch needs --aug NAME (or drop it)")
        if config.aug is not None and set(config.without) & {'alt-flip', 'translate'}:
            raise UsageError(f"--aug replaces the {recipe.name} recipe's flips and shifts, so "
                             "--without alt-flip/translate changes nothing; drop one of them")
    if config.kvstore == 'dist_async' and (config.resume or config.checkpoint_every):
        raise UsageError("dist_async keeps the optimizer state on the parameter servers, "
                         "where MXNet cannot read it back, so it cannot checkpoint; use "
                         "--kvstore dist_sync, or drop --resume and --checkpoint-every")
    for name in ('out', 'resume'):   # MXNet writes the run's parameters there
        if getattr(config, name) is not None:
            check_mxnet_path(getattr(config, name), flag_of(name))
    check_kvstore(config.kvstore)   # dist_*: the DMLC_* variables, before anything is written
    if config.book:
        check_book(config)


def check_book(config):
    """``--book`` runs the chapter's code path: refuse any setting that would change it."""
    if config.model in FASTNETS:
        raise UsageError("--book initializes the net with Xavier, as the chapter does; "
                         f"{config.model} initializes itself (identity convolutions, "
                         f"whitening) and would ignore it: drop --model {config.model}, or "
                         "drop --book")
    book = RECIPES['book']
    for f in config_fields():
        default = getattr(book, f.name) if f.name in OVERRIDABLE else f.default
        value = getattr(config, f.name)
        if f.name in OVERRIDABLE and value is None:
            continue   # left to the book recipe
        if not f.metadata['book'] and f.name != 'book' and value != default:
            raise UsageError(
                f"--book runs the chapter's code path, which {flag_of(f.name)} would change; "
                f"drop {flag_of(f.name)}, or drop --book (docs/BOOK.md, 'Departures from the book')")


def recorded_config(values, where):
    """Every RunConfig field of `values`, a configuration a checkpoint or a
    metrics.json recorded, by one rule for every reader (resume, evaluate,
    predict, export): a setting this gluon_aug does not know is refused (what it
    did cannot be redone); a missing one, written before the setting existed,
    takes its default, which is what that version ran with. `where` begins the
    refusal ("--resume 'runs/a' was made by gluon_aug 0.2.1")."""
    fields = {f.name: f.default for f in config_fields()}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError(f"{where}, with settings this gluon_aug does not know: "
                         f"{', '.join(unknown)}; use the gluon_aug that made it")
    before_0_2 = 'dtype' not in values
    values = dict(fields, **values)
    if before_0_2 and values['recipe'] == 'fast':
        # before 0.2.0 (no dtype yet) the fast recipe refused --aug and recorded the
        # default 'flip' for its own flips and shifts, which are aug None now
        values['aug'] = None
    return values


def _fits(value, field):
    """`value` (read from JSON) has the type of RunConfig `field`, or is None where the
    field's default is None."""
    if value is None:
        return field.default is None
    kind = field.type
    if kind is tuple:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is float:
        return type(value) in (int, float)
    return type(value) is kind   # bool is not int here, nor a string "false" a bool


def typed_config(values):
    """The RunConfig of `values` (every field, as ``recorded_config`` gives them);
    UsageError naming the first value of another type than its field's."""
    bad = next((f.name for f in config_fields() if not _fits(values[f.name], f)), None)
    if bad:
        raise UsageError(f"{bad} is {values[bad]!r}")
    return RunConfig(**dict(values, without=tuple(values['without'])))


def resume_view(config, where='the checkpoint'):
    """The settings a resumed run must share with its checkpoint, comparable as a dict."""
    if dataclasses.is_dataclass(config):
        values = dataclasses.asdict(config)
    else:
        values = recorded_config(config, where)
    # JSON keeps tuples as lists: compare them as lists
    return {f.name: list(v) if isinstance(v, tuple) else v
            for f in config_fields('resume') for v in [values[f.name]]}


@dataclass(frozen=True)
class Settings:
    """A run's settings resolved once: `config` complete (no field left for the
    recipe), `recipe` with ``config.without`` switched off, and `overrides`, the
    recipe's values that flags replaced. Everything below the entry point takes it."""
    config: RunConfig
    recipe: Recipe
    overrides: dict


def settle(config):
    """The one step from what was asked to what runs: check `config` as given,
    fill the recipe's values where it left None, check what needs both."""
    check_config(config)
    recipe = recipe_of(config)
    given = {name: getattr(config, name) for name in OVERRIDABLE
             if getattr(config, name) is not None}
    config = dataclasses.replace(config, **{name: getattr(recipe, name)
                                            for name in OVERRIDABLE if name not in given})
    if config.aug is None and recipe.loader == 'cifar':   # the book's train_augs
        config = dataclasses.replace(config, aug='flip')
    if recipe.whitening and config.model not in FASTNETS:
        raise UsageError(f"--recipe {recipe.name} whitens with fastnet's first layer, which "
                         f"{config.model!r} lacks; drop --model, or add --without whitening")
    return Settings(config, recipe, given)
