"""The book's figure helpers, drawn live in Jupyter and saved as PNG headless.

``set_figsize``, ``show_images`` and ``Animator`` keep d2l's signatures. In a
Jupyter kernel the Animator redraws its figure after every ``add`` as the
book's does; in a script it only collects the points, on a figure outside
pyplot (so no window opens and no backend is chosen), and
``Animator.savefig(path)`` writes it. Importing this module leaves
matplotlib's backend as the user set it.
"""
from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def in_notebook():
    """True inside a Jupyter (IPython kernel) session."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and 'IPKernelApp' in getattr(shell, 'config', {})


def use_svg_display():
    """Use the svg format to display a plot in Jupyter (d2l, sec_calculus)."""
    if in_notebook():
        from matplotlib_inline import backend_inline
        backend_inline.set_matplotlib_formats('svg')


def set_figsize(figsize=(3.5, 2.5)):
    """Set the figure size for matplotlib (d2l, sec_calculus)."""
    use_svg_display()
    plt.rcParams['figure.figsize'] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend):
    """Set the axes for matplotlib (d2l, sec_calculus)."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    if xlim is not None and xlim[0] == xlim[1]:   # fix: one epoch, shown whole, no warning
        xlim = (xlim[0] - 1, xlim[1])
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _to_numpy(img):
    return img.asnumpy() if hasattr(img, 'asnumpy') else img


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """Plot a list of images (d2l, sec_fashion_mnist); returns the axes."""
    # departure: squeeze=False (a 1 x 1 grid works), _to_numpy, unused axes hidden
    figsize = (num_cols * scale, num_rows * scale)
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        ax.imshow(_to_numpy(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    for ax in axes[len(imgs):]:
        ax.axis('off')
    return axes


class Animator:
    """For plotting data in animation (d2l, sec_softmax_scratch)."""

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None,
                 ylim=None, xscale='linear', yscale='linear',
                 fmts=('-', 'm--', 'g-.', 'r:'), nrows=1, ncols=1,
                 figsize=(3.5, 2.5)):
        if legend is None:
            legend = []
        use_svg_display()
        self.live = in_notebook()
        if self.live:   # pyplot's figure, shown inline by the notebook's backend
            self.fig, self.axes = plt.subplots(nrows, ncols, figsize=figsize)
        else:           # departure: headless, a bare Figure that only saves to files
            self.fig = Figure(figsize=figsize)
            self.axes = self.fig.subplots(nrows, ncols)
        if nrows * ncols == 1:
            self.axes = [self.axes, ]
        self.xlim, self.ylim = xlim, ylim  # departure: attributes, so savefig may widen them
        self.config_axes = lambda: set_axes(
            self.axes[0], xlabel, ylabel, self.xlim, self.ylim, xscale, yscale, legend)
        self.X, self.Y, self.fmts = None, None, fmts

    def add(self, x, y):
        """Add one or several points (None skips a line) and redraw."""
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        if self.live:
            from IPython import display
            self._draw()
            display.display(self.fig)
            display.clear_output(wait=True)

    def _draw(self):
        self.axes[0].cla()
        for x, y, fmt in zip(self.X or [], self.Y or [], self.fmts):
            self.axes[0].plot(x, y, fmt)
        self.config_axes()

    def savefig(self, path, dpi=100, fit_y=False):  # departure: ours, for headless runs
        """Draw every point added so far and save the figure (PNG by extension).

        `fit_y` raises the top of the y range to show every point (a loss
        above 1 leaves the book's [0, 1] range).
        """
        if fit_y and self.Y and self.ylim is not None:
            top = max([v for ys in self.Y for v in ys] + [self.ylim[1]])
            self.ylim = [self.ylim[0], top * 1.05 if top > self.ylim[1] else top]
        self._draw()
        self.fig.tight_layout()
        self.fig.savefig(path, dpi=dpi)

    def close(self):
        if self.live:
            plt.close(self.fig)
