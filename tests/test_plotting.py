import numpy as onp

from gluon_aug import Animator, Accumulator, Timer, show_images
from gluon_aug._mxnet import np
from gluon_aug.book.plotting import plt


def test_show_images_draws_each_image_with_its_title():
    imgs = [np.array(onp.full((4, 4, 3), i * 20, dtype=onp.uint8)) for i in range(6)]
    axes = show_images(imgs, 2, 4, titles=[f't{i}' for i in range(6)])
    assert len(axes) == 8
    assert [ax.get_title() for ax in axes[:6]] == [f't{i}' for i in range(6)]
    assert (axes[2].images[0].get_array() == 40).all()
    assert not axes[7].images  # spare cells stay empty
    plt.close('all')


def test_animator_saves_all_points_as_png(tmp_path):
    anim = Animator(xlabel='epoch', xlim=[1, 2], ylim=[0, 1],
                    legend=['train loss', 'train acc', 'test acc'])
    anim.add(0.5, (0.9, 0.3, None))
    anim.add(1.0, (0.7, 0.4, 0.35))
    anim.add(2.0, (0.5, 0.6, 0.55))
    path = tmp_path / 'curves.png'
    anim.savefig(str(path))
    assert path.read_bytes()[:4] == b'\x89PNG'
    lines = anim.axes[0].get_lines()
    assert [list(l.get_xdata()) for l in lines] == [[0.5, 1.0, 2.0], [0.5, 1.0, 2.0], [1.0, 2.0]]
    assert [t.get_text() for t in anim.axes[0].get_legend().get_texts()] == \
        ['train loss', 'train acc', 'test acc']
    anim.add(2.5, (1.6, 0.7, None))  # a loss above the book's [0, 1] range
    anim.savefig(str(path), fit_y=True)
    assert anim.axes[0].get_ylim() == (0, 1.6 * 1.05)
    anim.close()


def test_accumulator_and_timer():
    acc = Accumulator(2)
    acc.add(1, 2)
    acc.add(np.array(3.0), 4)
    assert acc[0] == 4.0 and acc[1] == 6.0
    t = Timer()
    t.times = [1.0, 2.0, 3.0]
    assert t.sum() == 6.0 and t.avg() == 2.0 and t.cumsum() == [1.0, 3.0, 6.0]
