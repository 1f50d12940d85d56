"""More of issue 3 in the browser: blitting, ArtistAnimation, pick events, more widgets,
full screen, and re-running a figure cell many times."""

import time

import pytest
from test_browser import page_xy

pytestmark = pytest.mark.browser


def poll(nb, expr, until, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = nb.eval(expr)
        if until(value) or time.monotonic() > deadline:
            return value
        nb.page.wait_for_timeout(100)


def wait_frames_for(nb, index, seconds):
    before = nb.frames(index)
    nb.page.wait_for_timeout(int(seconds * 1000))
    return nb.frames(index) - before


def test_blitted_and_artist_animations(open_notebook):
    cells = [
        "from matplotlib.animation import FuncAnimation, ArtistAnimation\n"
        "fig, ax = plt.subplots(figsize=(4, 3), dpi=100); ax.set_xlim(0, 2 * np.pi); ax.set_ylim(-1, 1)\n"
        "pt, = ax.plot([], [], 'o', animated=True)\n"
        "def step(i):\n    pt.set_data([i % 63 / 10], [np.sin(i % 63 / 10)])\n    return (pt,)\n"
        "anim = FuncAnimation(fig, step, interval=30, blit=True, cache_frame_data=False)",
        "fig2, ax2 = plt.subplots(figsize=(3, 2), dpi=100)\n"
        "frames = [[ax2.imshow(np.full((4, 4), k), vmin=0, vmax=5, animated=True)] for k in range(5)]\n"
        "anim2 = ArtistAnimation(fig2, frames, interval=60)",
    ]
    nb = open_notebook(cells)
    nb.wait_live(0)
    nb.wait_live(1)
    assert wait_frames_for(nb, 0, 1.5) >= 8, "blitted animation frames do not reach the canvas"
    assert wait_frames_for(nb, 1, 1.5) >= 5, "ArtistAnimation frames do not reach the canvas"
    # A blitted frame carries only the marker's neighbourhood, not the whole figure.
    sizes = nb.eval(
        "[[w * h for (x, y, w, h) in update.rects] for update in [fig.canvas.manager._encoded[k] "
        "for k in list(fig.canvas.manager._encoded)]]"
    )
    assert sizes and all(sum(s) < 0.1 * 400 * 300 for s in sizes), sizes
    nb.execute("anim.event_source.stop(); anim2.event_source.stop()")
    nb.page.wait_for_timeout(300)
    assert wait_frames_for(nb, 0, 1.0) == 0 and wait_frames_for(nb, 1, 1.0) == 0
    assert nb.console_errors == []


def test_pick_radio_rangeslider_spanselector(open_notebook):
    cells = [
        "from matplotlib.widgets import RadioButtons, RangeSlider, SpanSelector\n"
        "fig = plt.figure(figsize=(6, 5), dpi=100)\n"
        "ax = fig.add_axes([0.1, 0.45, 0.8, 0.5]); ax.set_xlim(0, 10); ax.set_ylim(0, 10)\n"
        "picked = []; spans = []\n"
        "ln, = ax.plot([2, 8], [5, 5], picker=5)\n"
        "fig.canvas.mpl_connect('pick_event', lambda e: picked.append(e.artist is ln))\n"
        "radio = RadioButtons(fig.add_axes([0.1, 0.05, 0.2, 0.25]), ['red', 'green', 'blue'])\n"
        "rs = RangeSlider(fig.add_axes([0.45, 0.2, 0.45, 0.05]), 'range', 0, 10, valinit=(2, 8))\n"
        "span = SpanSelector(ax, lambda a, b: spans.append((a, b)), 'horizontal', button=3)"
    ]
    nb = open_notebook(cells, viewport={"width": 1200, "height": 1400})  # the whole figure on screen
    nb.wait_live()
    mouse = nb.page.mouse
    # pick_event: click on the line.
    mouse.click(*page_xy(nb, 5, 5))
    assert poll(nb, "picked", bool) == [True]
    # RadioButtons: click the third label.
    x, y = nb.eval("[float(v) for v in radio.ax.transAxes.transform((0.15, 0.25)) / fig.canvas.device_pixel_ratio]")
    box = nb.canvas_box()
    mouse.click(box["x"] + x, box["y"] + box["height"] - y)
    assert poll(nb, "radio.value_selected", lambda v: v == "blue") == "blue"
    # RangeSlider: drag the upper handle from 8 to about 5.
    (x8, yh), (x5, _) = nb.eval(
        "[[float(v) for v in rs.ax.transData.transform((8, 0.5)) / fig.canvas.device_pixel_ratio], "
        "[float(v) for v in rs.ax.transData.transform((5, 0.5)) / fig.canvas.device_pixel_ratio]]"
    )
    mouse.move(box["x"] + x8, box["y"] + box["height"] - yh)
    mouse.down()
    mouse.move(box["x"] + x5, box["y"] + box["height"] - yh, steps=5)
    mouse.up()
    low, high = poll(nb, "list(rs.val)", lambda v: v[1] < 6)
    assert low == pytest.approx(2, abs=0.1) and high == pytest.approx(5, abs=0.3)
    # SpanSelector on the right button: drag from x=3 to x=6.
    mouse.move(*page_xy(nb, 3, 2))
    mouse.down(button="right")
    mouse.move(*page_xy(nb, 6, 2), steps=6)
    mouse.up(button="right")
    ((a, b),) = poll(nb, "spans", bool)
    assert a == pytest.approx(3, abs=0.1) and b == pytest.approx(6, abs=0.1)


def test_f_key_toggles_full_screen(open_notebook):
    nb = open_notebook(["fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\nax.plot([1, 2])"])
    fig = nb.wait_live()
    fig.locator("canvas.nbagg-canvas").click()
    nb.page.keyboard.press("f")
    nb.page.wait_for_function("() => document.fullscreenElement === document.querySelector('.nbagg-figure')")
    nb.page.keyboard.press("f")
    nb.page.wait_for_function("() => document.fullscreenElement === null")


def test_rerunning_a_figure_cell_30_times_does_not_pile_up(open_notebook):
    nb = open_notebook(["import warnings\nfig, ax = plt.subplots(figsize=(2, 2), dpi=50)\nax.plot([1, 3, 2])"])
    nb.wait_live()
    for _ in range(30):
        nb.run_cell(1)
    nb.wait_live()
    assert poll(nb, "len(plt.get_fignums())", lambda n: n == 1) == 1
    text = nb.outputs(1).all_text_contents()
    assert not any("max_open_warning" in t or "More than 20 figures" in t for t in text)
    assert nb.page.locator(".nbagg-figure").count() == 1


def test_lasso_cursor_and_multicursor(open_notebook):
    cells = [
        "from matplotlib.widgets import LassoSelector, Cursor, MultiCursor\n"
        "fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)\n"
        "for a in (ax, ax2):\n    a.set_xlim(0, 10); a.set_ylim(0, 10)\n"
        "lassos = []\nlasso = LassoSelector(ax, lambda verts: lassos.append(len(verts)))\n"
        "cursor = Cursor(ax2, useblit=True, color='red')\n"
        "multi = MultiCursor(None, (ax, ax2), color='green', horizOn=True)"
    ]
    nb = open_notebook(cells)
    nb.wait_live()
    box = nb.canvas_box()

    def at(axes, x, y):
        px, py = nb.eval(f"[float(v) for v in {axes}.transData.transform(({x}, {y})) / fig.canvas.device_pixel_ratio]")
        return box["x"] + px, box["y"] + box["height"] - py

    mouse = nb.page.mouse
    mouse.move(*at("ax", 2, 2))
    mouse.down()
    for x, y in [(8, 2), (8, 8), (2, 8)]:
        mouse.move(*at("ax", x, y), steps=4)
    mouse.up()
    assert poll(nb, "lassos", bool)[0] >= 4  # the lasso got its path
    frames = nb.frames()
    mouse.move(*at("ax2", 3, 7), steps=3)
    nb.wait_frames(0, frames)
    assert nb.eval("cursor.lineh.get_visible() and float(cursor.lineh.get_ydata()[0])") == pytest.approx(7, abs=0.1)
    assert nb.eval("float(multi.hlines[1].get_ydata()[0])") == pytest.approx(7, abs=0.1)
