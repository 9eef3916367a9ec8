"""The two pictures of an evaluation: the confusion matrix and the worst mistakes.

Both draw on a bare ``matplotlib.figure.Figure`` and save a PNG: no pyplot,
so the user's backend stays as it is and nothing needs a display.
"""
import numpy as onp
from matplotlib.figure import Figure


def plot_confusion(confusion, classes, path, title):
    """Save the confusion matrix `confusion` (counts; rows: true class, columns:
    predicted class) normalized per true class: the colour and the large number
    are the share of the true class, the small number is the count."""
    confusion = onp.asarray(confusion)
    totals = confusion.sum(axis=1, keepdims=True)
    share = confusion / onp.maximum(totals, 1)
    fig = Figure(figsize=(8.2, 7.2))
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap='Blues', vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if not confusion[i, j]:
                continue
            color = 'white' if share[i, j] > 0.55 else 'black'
            pct = f'{share[i, j]:.0%}' if share[i, j] >= 0.005 else '<1%'
            ax.text(j, i - 0.12, pct, ha='center', va='center', color=color,
                    fontsize=9, fontweight='bold' if i == j else 'normal')
            ax.text(j, i + 0.25, str(confusion[i, j]), ha='center', va='center', color=color,
                    fontsize=7.5)
    n = len(classes)
    ax.set_xticks(range(n), classes, rotation=40, ha='right')
    ax.set_yticks(range(n), [f'{c} ({int(t)})' for c, t in zip(classes, totals[:, 0])])
    ax.set_xlabel('predicted class')
    ax.set_ylabel('true class (test images)')
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label='share of the true class')
    fig.savefig(path, dpi=110, bbox_inches='tight')   # the labels and the colour bar fit


def plot_mistakes(images, mistakes, classes, path, title, cols=6):
    """Save a grid of misclassified test images. `images`: (N, 32, 32, 3) uint8;
    `mistakes`: dicts with 'index', 'true', 'predicted' (class indices) and
    'confidence' (the predicted class's probability), most confident first."""
    rows = max(1, -(-len(mistakes) // cols))
    fig = Figure(figsize=(cols * 1.6, rows * 1.95 + 0.5), layout='constrained')
    for k in range(rows * cols):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.axis('off')
        if k >= len(mistakes):
            continue
        m = mistakes[k]
        ax.imshow(images[m['index']], interpolation='nearest')
        ax.set_title(f"true: {classes[m['true']]}\npred: {classes[m['predicted']]} "
                     f"{m['confidence']:.2f}", fontsize=8, color='firebrick')
    if not mistakes:
        fig.axes[0].text(0.5, 0.5, 'no mistakes', ha='center', va='center')
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
