"""Training recipes as small declarative records: the book's and two fast ones.

``--recipe book`` is the chapter's experiment: d2l ResNet-18, Adam lr 0.001,
batch 256, 10 epochs, the per-sample `--aug` preset (flip). ``--recipe fast``
is ours, built from airbench's ideas (Keller Jordan, "94% on CIFAR-10 in 3.29
seconds on a single GPU", 2024) with this package's parts, each a named
ingredient that ``--without NAME`` switches off:

==============  ==========================================================================
whitening       fastnet's first conv: frozen 2x2 patch whitening from the data
whiten-bias     that conv's bias trained for the first epochs only, then frozen (fast94)
fan-in-init     fastnet drawn uniform within +-1/sqrt(fan in), PyTorch's default (fast94;
                else Kaiming normal)
alt-flip        derandomized flips, each image mirrored in every other epoch (else random)
translate       shifts of up to 2 px with reflected borders, batched with the flip
                (``--aug NAME`` replaces both with a per-sample preset)
nesterov        Nesterov momentum (MXNet's ``nag``; else plain momentum SGD)
schedule        linear warm-up then linear decay of the learning rate, per step
smoothing       label smoothing 0.2 in the loss
averaging       lookahead weight averaging (an EMA the weights are reset to)
tta             test-time augmentation: mirror, and 1 px shifts at the last epoch
==============  ==========================================================================

``--recipe fast94`` is the fast recipe at airbench94's size, aimed at 94 % on
all 50,000 images (issue 21): fastnet-wide (widths 64/256/256) drawn as
PyTorch draws airbench94's net, batch 1024, the whitening bias frozen after 3
epochs, and airbench94's learning rate and weight decay carried over to
MXNet's mean-gradient Trainer (below).

All recipes train through the same engine (``loop.fit`` and the book's
``train_batch_ch13``); the pieces live in ``models/fastnet.py`` (fastnet and its
whitening), ``loaders.ArrayLoader`` (batched flip and translation) and
``run/ingredients.py`` (loss, schedule, averaging, TTA).
"""
import dataclasses
from dataclasses import dataclass

from ..book.ch13 import BOOK_BATCH_SIZE, BOOK_EPOCHS, BOOK_LR


@dataclass(frozen=True)
class MuonGroups:
    """The optimizer of airbench94_muon, in its own units (PyTorch, a loss summed
    over the batch): Muon for the convolution filters, Nesterov SGD for the head
    and the biases; ``build.make_trainer`` turns the learning rates and the decay
    into MXNet's mean-gradient ``lr_mult``/``wd_mult`` for the batch size run."""
    muon_momentum: float = 0.6
    momentum: float = 0.85        # the SGD group's
    ns_steps: int = 3             # Newton-Schulz iterations per step
    nesterov: bool = True
    head_lr: float = 0.67         # per summed gradient
    bias_lr: float = 0.053        # the BatchNorm betas and the whitening bias
    decay: float = 2e-6           # SGD group's weight decay per step and example of the batch


@dataclass(frozen=True)
class Recipe:
    """What a recipe decides. `model`, `epochs`, `batch_size`, `lr` and
    `optimizer` are defaults a run's flags may override; the rest are the
    ingredients."""
    name: str
    model: str
    epochs: int
    batch_size: int
    lr: float                     # the peak learning rate with a schedule
    optimizer: str                # a gluon.Trainer optimizer name
    momentum: float = 0.0
    wd: float = 0.0               # MXNet's: wd * w added to the gradient
    bias_lr_mult: float = 1.0     # BatchNorm betas: lr x this, wd / this (airbench)
    loader: str = 'cifar'         # 'cifar': per-sample --aug preset; 'array': ArrayLoader
    whitening: bool = False
    whiten_bias_epochs: int = None   # epochs the whitening bias trains (None: all)
    init: str = 'kaiming'         # fastnet's init_kind: 'kaiming' or 'fan-in'
    flip: str = 'random'          # the array loader's flips: 'alternating' or 'random'
    translate: int = 0            # the array loader's shifts, pixels
    schedule: tuple = None        # (warm-up fraction, start factor, end factor) of lr
    smoothing: float = 0.0
    averaging: str = None         # 'lookahead', 'ema' or None
    average_every: int = 5        # steps between updates of the average
    average_rho: float = 0.95     # its decay per step
    tta: int = 0                  # 0 none, 1 mirror, 2 mirror and 1 px shifts
    muon: MuonGroups = None       # with optimizer 'muon': its groups (run/muon.py)
    head: str = 'airbench94'      # fastnet's head: 'airbench94' (x 1/9) or 'muon' (unit
                                  # weights, x 1/width: airbench94_muon's)

    def without(self, *ingredients):
        """This recipe with `ingredients` (names of INGREDIENTS) switched off."""
        changes = {}
        for name in ingredients:
            if name == 'nesterov' and self.muon:   # Muon's own Nesterov form, both groups
                changes['muon'] = dataclasses.replace(self.muon, nesterov=False)
            else:
                changes.update(INGREDIENTS[name])
        return dataclasses.replace(self, **changes)


RECIPES = {
    'book': Recipe('book', model='resnet18', epochs=BOOK_EPOCHS, batch_size=BOOK_BATCH_SIZE,
                   lr=BOOK_LR, optimizer='adam'),
    # Tuned on the 10k-image subset on 2 CPU cores (closing note of issue 11).
    'fast': Recipe('fast', model='fastnet', epochs=10, batch_size=250, lr=0.4,
                   optimizer='nag', momentum=0.85, wd=1.5e-3, bias_lr_mult=64.0,
                   loader='array', whitening=True, flip='alternating', translate=2,
                   schedule=(0.23, 0.2, 0.07), smoothing=0.2, averaging='lookahead',
                   tta=2),
    # airbench94's hyperparameters (its 'lr' 11.5 and 'weight_decay' 0.0153 are per
    # 1024 examples, divided by 1 + 1/(1 - momentum)): MXNet's step averages the
    # gradient over the batch, so lr = 11.5 / (1 + 1/0.15) = 1.5 and wd is the decay
    # per step over lr, 0.0153 / (1 + 1/0.15) / 1.5 = 1.33e-3. Its 9.9 epochs: 10.
    'fast94': Recipe('fast94', model='fastnet-wide', epochs=10, batch_size=1024, lr=1.5,
                     optimizer='nag', momentum=0.85, wd=1.33e-3, bias_lr_mult=64.0,
                     loader='array', whitening=True, whiten_bias_epochs=3, init='fan-in',
                     flip='alternating', translate=2, schedule=(0.23, 0.2, 0.07),
                     smoothing=0.2, averaging='lookahead', tta=2),
    # airbench94_muon (94.01 % in 0.68x airbench94's time on a GPU): 8 epochs of
    # batch 2000, Muon for the filters at lr 0.24 (the Trainer's), linear decay to 0
    # from the first step, no lookahead, airbench94_muon's head; the rest as fast94.
    # Departures: the whitening bias follows the common decay until it freezes after
    # 3 epochs (airbench94_muon decays its lr to 0 over those 3 epochs), and the
    # Newton-Schulz iteration runs in float32 (bfloat16 there)
    'fast94-muon': Recipe('fast94-muon', model='fastnet-wide', epochs=8, batch_size=2000,
                          lr=0.24, optimizer='muon', loader='array', whitening=True,
                          whiten_bias_epochs=3, init='fan-in', flip='alternating', translate=2,
                          schedule=(0.0, 1.0, 0.0), smoothing=0.2, tta=2, muon=MuonGroups(),
                          head='muon'),
}

# ingredient -> the fields that switch it off
INGREDIENTS = {
    'whitening': {'whitening': False},
    'whiten-bias': {'whiten_bias_epochs': None},
    'fan-in-init': {'init': 'kaiming'},
    'alt-flip': {'flip': 'random'},
    'translate': {'translate': 0},
    'nesterov': {'optimizer': 'sgd'},
    'schedule': {'schedule': None},
    'smoothing': {'smoothing': 0.0},
    'averaging': {'averaging': None},
    'tta': {'tta': 0},
}

# The run settings a recipe sets, unless a flag gives them (RunConfig's fields).
OVERRIDABLE = ('model', 'epochs', 'batch_size', 'lr', 'optimizer')


def recipe_of(config):
    """The recipe a run of `config` follows: ``RECIPES[config.recipe]`` with the
    ingredients of ``config.without`` switched off."""
    return RECIPES[config.recipe].without(*config.without)
