"""Browser tests for everything matplotlib users wire to a figure (issue 3).

One real nbclassic page at devicePixelRatio 2 and one kernel are shared by the whole
module: each test appends a cell that makes its own figure and connects callbacks
recording into a kernel-side list, drives Chromium's mouse and keyboard, and reads the
list back from the kernel.
"""

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
from browser_harness import SETUP, NotebookPage, shutdown_kernels, write_notebook
from test_browser import drag

pytestmark = pytest.mark.browser

DPR = 2

# The RGBA bytes of figure views' canvases, compared in the page (a 1280x960 backing store
# is 5 M numbers: too many to ship to Python for every comparison).
CANVAS_DIGEST = """(i) => {
    const c = document.querySelectorAll('.nbagg-figure')[i].querySelector('canvas.nbagg-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let k = 0; k < d.length; k++) { h ^= d[k]; h = Math.imul(h, 16777619) >>> 0; }
    return `${c.width}x${c.height}:${h}`;
}"""
CANVASES_DIFFER = """([i, j]) => {
    const canvas = (n) => document.querySelectorAll('.nbagg-figure')[n].querySelector('canvas.nbagg-canvas');
    const a = canvas(i), b = canvas(j);
    if (a.width !== b.width || a.height !== b.height) return -1;
    const da = a.getContext('2d').getImageData(0, 0, a.width, a.height).data;
    const db = b.getContext('2d').getImageData(0, 0, b.width, b.height).data;
    let n = 0;
    for (let k = 0; k < da.length; k++) if (da[k] !== db[k]) n++;
    return n;
}"""


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def nb(browser, notebook_server):
    """One notebook page at devicePixelRatio 2, shared by every test in this module."""
    name = f"interaction-{uuid.uuid4().hex[:8]}.ipynb"
    write_notebook(notebook_server.root / name, [SETUP])
    context = browser.new_context(device_scale_factor=DPR, viewport={"width": 1200, "height": 900})
    try:
        page = NotebookPage(context.new_page(), notebook_server, name)
        page.run_all()
        yield page
    finally:
        context.close()
        shutdown_kernels(notebook_server)


def add_cell(nb, code: str) -> int:
    """Append a code cell, run it as the user would, wait for the kernel; its index."""
    index = nb.add_cell(code)
    errors = nb.cell_errors(index)
    assert not errors, f"cell {index} failed:\n{errors[0]}"
    return index


def figure_in_cell(nb, cell: int, nth: int = 0) -> int:
    """Index among the page's `.nbagg-figure`s (what NotebookPage helpers take) of a cell's figure."""
    mine = nb.cell(cell).locator(".nbagg-figure").nth(nth)
    try:
        mine.wait_for(state="attached")
    except Exception as err:
        outputs = [(o.get("output_type"), sorted(o.get("data", {}))) for o in nb.cell_outputs(cell)]
        raise AssertionError(f"cell {cell} of {nb.cell_count()} shows no figure; its outputs: {outputs}") from err
    mine.scroll_into_view_if_needed()
    index = mine.evaluate("(f) => Array.from(document.querySelectorAll('.nbagg-figure')).indexOf(f)")
    assert index >= 0, f"cell {cell} shows no figure"
    nb.wait_live(index)
    return index


def new_figure(nb, code: str) -> int:
    """Run a cell that makes one figure; the live figure's index, scrolled into view."""
    index = figure_in_cell(nb, add_cell(nb, code))
    nb.figure(index).scroll_into_view_if_needed()
    return index


def kernel_json(nb, expr: str):
    """A kernel-side value through JSON (tuples become lists)."""
    out = nb.execute(f"import json as _j; print(_j.dumps({expr}))")
    try:
        return json.loads(out)
    except json.JSONDecodeError as err:
        raise AssertionError(f"kernel said: {out}") from err


def poll(nb, expr: str, until, timeout: float = 10.0):
    """Ask the kernel for `expr` until `until(value)` holds or time is up; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = kernel_json(nb, expr)
        if until(value) or time.monotonic() > deadline:
            return value
        nb.page.wait_for_timeout(100)


def flush_input(nb) -> None:
    """Let the view send what it coalesces (moves, wheel) until the next animation frame."""
    nb.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def to_page(nb, index: int, ax: str, x: float, y: float) -> tuple[float, float]:
    """Page coordinates (CSS px, whole pixels) of data point (x, y) of kernel Axes `ax` on figure `index`."""
    dx, dy = kernel_json(
        nb, f"[float(v) for v in {ax}.transData.transform(({x}, {y})) / {ax}.figure.canvas.device_pixel_ratio]"
    )
    box = nb.canvas_box(index)
    return round(box["x"] + dx), round(box["y"] + box["height"] - dy)


def center_of(nb, index: int, artist: str) -> tuple[float, float]:
    """Page coordinates of the middle of a kernel-side artist (an Axes, a Text, ...)."""
    dx, dy = kernel_json(
        nb,
        f"[float(v) for v in {artist}.get_window_extent().get_points().mean(axis=0)"
        f" / {artist}.figure.canvas.device_pixel_ratio]",
    )
    box = nb.canvas_box(index)
    return round(box["x"] + dx), round(box["y"] + box["height"] - dy)


def one_pixel(nb, ax: str) -> tuple[float, float]:
    """Data units per CSS pixel of an Axes, in x and y."""
    return kernel_json(
        nb,
        f"[float(abs(a[1] - a[0]) / (w / {ax}.figure.canvas.device_pixel_ratio))"
        f" for a, w in (({ax}.get_xlim(), {ax}.bbox.width), ({ax}.get_ylim(), {ax}.bbox.height))]",
    )


def button(nb, action, index):
    return nb.figure(index).locator(f"button[data-action={action}]")


def digest(nb, index: int) -> str:
    return nb.page.evaluate(CANVAS_DIGEST, index)


def wait_digest_change(nb, index: int, before: str, timeout: float = 10_000) -> None:
    nb.page.wait_for_function(f"([i, before]) => ({CANVAS_DIGEST})(i) !== before", arg=[index, before], timeout=timeout)


def wait_still(nb, index: int) -> None:
    """Wait until a figure's canvas stops moving on the screen (smooth scrolling, layout)."""
    nb.page.evaluate("() => { window.__nbaggTestTop = NaN; }")
    nb.page.wait_for_function(
        """(i) => {
            const top = document.querySelectorAll('.nbagg-figure')[i].querySelector('canvas').getBoundingClientRect().top;
            const still = window.__nbaggTestTop === top;
            window.__nbaggTestTop = top;
            return still;
        }""",
        arg=index,
        polling=150,
    )


def wait_frames_still(nb, indices: list[int], quiet_ms: int = 500) -> None:
    """Wait until no new frame has been drawn in these views for `quiet_ms`."""
    nb.page.evaluate("() => { window.__nbaggTestFrames = null; }")
    nb.page.wait_for_function(
        """([views, quiet]) => {
            const now = views.map((i) => document.querySelectorAll('.nbagg-figure')[i].dataset.nbaggFrames).join();
            const last = window.__nbaggTestFrames;
            if (!last || last.frames !== now) {
                window.__nbaggTestFrames = {frames: now, since: performance.now()};
                return false;
            }
            return performance.now() - last.since >= quiet;
        }""",
        arg=[indices, quiet_ms],
        polling=100,
        timeout=15_000,
    )


def focused_canvas(nb) -> bool:
    return nb.page.evaluate("() => document.activeElement && document.activeElement.matches('canvas.nbagg-canvas')")


# ------------------------------------------------------------- 1. mouse buttons, dpr, scroll

CLICKS = """fig1, ax1 = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax1.plot([0, 1, 2], [0, 1, 4])
clicks = []

def on_button(e):
    clicks.append((e.name, int(e.button), e.key, '+'.join(sorted(e.modifiers)), e.dblclick, e.xdata, e.ydata))

fig1.canvas.mpl_connect('button_press_event', on_button)
fig1.canvas.mpl_connect('button_release_event', on_button)"""


@pytest.fixture(scope="module")
def clicks_fig(nb):
    return new_figure(nb, CLICKS)


def clear_settled(nb, name: str) -> None:
    """Empty a kernel list of events once input from earlier tests stopped arriving (comm
    messages on a subshell may be handled after a later cell)."""
    for _ in range(20):
        nb.execute(f"{name}.clear()")
        nb.page.wait_for_timeout(300)
        if kernel_json(nb, f"len({name})") == 0:
            return
    raise AssertionError(f"{name} keeps filling with events nobody sent")


def test_press_and_release_for_left_middle_right(nb, clicks_fig):
    nb.figure(clicks_fig).scroll_into_view_if_needed()
    clear_settled(nb, "clicks")
    xy = to_page(nb, clicks_fig, "ax1", 1, 2)
    for name in ("left", "middle", "right"):
        nb.page.mouse.click(*xy, button=name)
    events = poll(nb, "clicks", lambda v: len(v) >= 6)
    got = [(e[0], e[1]) for e in events]
    assert got == [
        ("button_press_event", 1),
        ("button_release_event", 1),
        ("button_press_event", 2),
        ("button_release_event", 2),
        ("button_press_event", 3),
        ("button_release_event", 3),
    ], f"left, middle, right clicks gave {got}"
    assert not any(e[4] for e in events), "a single click reported dblclick=True"
    tx, ty = one_pixel(nb, "ax1")
    for e in events:
        assert e[5] == pytest.approx(1, abs=tx) and e[6] == pytest.approx(2, abs=ty), e


def test_double_click_is_press_release_dblclick_release(nb, clicks_fig):
    nb.figure(clicks_fig).scroll_into_view_if_needed()
    nb.execute("clicks.clear()")
    nb.page.mouse.dblclick(*to_page(nb, clicks_fig, "ax1", 1.5, 1))
    events = poll(nb, "clicks", lambda v: len(v) >= 4)
    assert [(e[0], e[1], e[4]) for e in events] == [
        ("button_press_event", 1, False),
        ("button_release_event", 1, False),
        ("button_press_event", 1, True),
        ("button_release_event", 1, False),
    ]


def test_shift_held_during_a_click(nb, clicks_fig):
    nb.figure(clicks_fig).scroll_into_view_if_needed()
    xy = to_page(nb, clicks_fig, "ax1", 0.5, 3)
    nb.execute("clicks.clear()")
    nb.page.mouse.click(*xy)  # focus the canvas so it sees the Shift key go down
    poll(nb, "clicks", lambda v: len(v) >= 2)
    nb.execute("clicks.clear()")
    nb.page.keyboard.down("Shift")
    try:
        nb.page.mouse.click(*xy)
    finally:
        nb.page.keyboard.up("Shift")
    events = poll(nb, "clicks", lambda v: len(v) >= 2)
    press = events[0]
    assert press[0] == "button_press_event"
    assert "shift" in press[3].split("+"), f"modifiers of the press: {press[3]!r}"
    assert press[2] == "shift", f"event.key of the press: {press[2]!r}"


def test_click_data_coordinates_at_dpr2_on_a_scrolled_page(nb, clicks_fig):
    fig = nb.figure(clicks_fig)
    assert nb.page.evaluate("() => window.devicePixelRatio") == DPR
    px = nb.page.evaluate(
        "(i) => { const c = document.querySelectorAll('.nbagg-figure')[i].querySelector('canvas.nbagg-canvas');"
        " return [c.width, c.height, c.clientWidth, c.clientHeight]; }",
        clicks_fig,
    )
    assert px == [640 * DPR, 480 * DPR, 640, 480]
    # Room below the figure so the notebook can scroll it up; the figure starts at the
    # bottom of the window, then the notebook scrolls it to the top.
    add_cell(nb, "print('\\n' * 60)")
    fig.evaluate("f => f.scrollIntoView({block: 'end'})")
    wait_still(nb, clicks_fig)
    before = nb.canvas_box(clicks_fig)["y"]
    scroller = nb.page.locator(nb.frontend.scroller).first
    site_top = scroller.evaluate("(s) => s.getBoundingClientRect().top")
    scroller.evaluate("(s, dy) => { s.scrollTop += dy; }", before - (site_top + 20))
    wait_still(nb, clicks_fig)
    after = nb.canvas_box(clicks_fig)["y"]
    assert before - after > 100, f"the notebook did not scroll the figure (canvas top {before} -> {after})"
    tx, ty = one_pixel(nb, "ax1")
    for x, y in [(0.25, 2.5), (1.75, 0.5)]:
        nb.execute("clicks.clear()")
        nb.page.mouse.click(*to_page(nb, clicks_fig, "ax1", x, y))
        events = poll(nb, "clicks", lambda v: len(v) >= 2)
        press = events[0]
        assert press[0] == "button_press_event"
        assert press[5] == pytest.approx(x, abs=tx) and press[6] == pytest.approx(y, abs=ty), press


# ------------------------------------------------- 2. motion, figure and axes enter / leave

MOTION = """fig2, (ax_left, ax_right) = plt.subplots(1, 2, figsize=(6.4, 4.8), dpi=100)
ax_left.set_label('left')
ax_right.set_label('right')
ax_left.plot([0, 1], [0, 1])
ax_right.plot([0, 10], [0, 100])
moves = []

def recorder(name):  # axes_enter_event carries the motion event that caused it: keep the signal's name
    return lambda e: moves.append((name, e.inaxes.get_label() if e.inaxes else None, e.xdata, e.ydata))

for name in ('motion_notify_event', 'figure_enter_event', 'figure_leave_event',
             'axes_enter_event', 'axes_leave_event'):
    fig2.canvas.mpl_connect(name, recorder(name))"""


def in_order(events, expected):
    """Indices of `expected` (name, axes label or None) found one after another in `events`."""
    found, start = [], 0
    for name, label in expected:
        for i in range(start, len(events)):
            if events[i][0] == name and (label is None or events[i][1] == label):
                found.append(i)
                start = i + 1
                break
        else:
            raise AssertionError(f"no {name} {label or ''} after {expected[: len(found)]} in {events}")
    return found


def test_motion_and_enter_leave_events(nb):
    index = new_figure(nb, MOTION)
    box = nb.canvas_box(index)
    mouse = nb.page.mouse
    outside = (round(box["x"] - 30), round(box["y"] + box["height"] / 2))
    margin = (round(box["x"] + 10), round(box["y"] + box["height"] / 2))  # in the figure, in no Axes
    # Start outside the figure, with the pointer last seen in no Axes.
    for xy in (margin, outside):
        mouse.move(*xy)
        flush_input(nb)
    nb.execute("moves.clear()")

    path = [
        margin,
        to_page(nb, index, "ax_left", 0.25, 0.75),
        to_page(nb, index, "ax_right", 5, 40),
        to_page(nb, index, "ax_right", 7, 60),
        outside,
    ]
    for xy in path:
        mouse.move(*xy)
        flush_input(nb)
    events = poll(nb, "moves", lambda v: any(e[0] == "figure_leave_event" for e in v))
    in_order(
        events,
        [
            ("figure_enter_event", None),
            ("axes_enter_event", "left"),
            ("motion_notify_event", "left"),
            ("axes_leave_event", "left"),
            ("axes_enter_event", "right"),
            ("motion_notify_event", "right"),
            ("figure_leave_event", None),
        ],
    )
    motion = [e for e in events if e[0] == "motion_notify_event"]
    left = [e for e in motion if e[1] == "left"][-1]
    tx, ty = one_pixel(nb, "ax_left")
    assert left[2] == pytest.approx(0.25, abs=tx) and left[3] == pytest.approx(0.75, abs=ty), left
    right = [e for e in motion if e[1] == "right"][-1]
    tx, ty = one_pixel(nb, "ax_right")
    assert right[2] == pytest.approx(7, abs=tx) and right[3] == pytest.approx(60, abs=ty), right
    assert [e for e in motion if e[1] is None], "no motion_notify_event over the figure outside the Axes"


# ---------------------------------------------------------------------------- 3. scroll

SCROLL = """fig3, ax3 = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax3.plot([0, 1, 2], [0, 1, 4])
scrolls = []
fig3.canvas.mpl_connect('scroll_event', lambda e: scrolls.append((e.name, e.step, e.button, e.xdata, e.ydata)))"""


def test_wheel_up_and_down_give_scroll_steps(nb):
    index = new_figure(nb, SCROLL)
    mouse = nb.page.mouse
    tx, ty = one_pixel(nb, "ax3")

    mouse.move(*to_page(nb, index, "ax3", 1, 2))
    mouse.wheel(0, -100)  # up
    up = poll(nb, "scrolls", lambda v: len(v) >= 1)
    assert len(up) == 1, up
    assert up[0][0] == "scroll_event" and up[0][1] > 0 and up[0][2] == "up", up
    assert up[0][3] == pytest.approx(1, abs=tx) and up[0][4] == pytest.approx(2, abs=ty)

    # The wheel may have scrolled the page as well: find the figure again.
    wait_still(nb, index)
    nb.figure(index).scroll_into_view_if_needed()
    wait_still(nb, index)
    mouse.move(*to_page(nb, index, "ax3", 1.5, 3))
    mouse.wheel(0, 100)  # down
    events = poll(nb, "scrolls", lambda v: len(v) >= 2)
    assert len(events) == 2, events
    assert events[1][1] < 0 and events[1][2] == "down", events


# ------------------------------------------------------------------------------ 4. keys

KEYS = """fig4, ax4 = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax4.plot([0, 1, 2], [0, 1, 4])
keys = []
fig4.canvas.mpl_connect('key_press_event', lambda e: keys.append(('press', e.key)))
fig4.canvas.mpl_connect('key_release_event', lambda e: keys.append(('release', e.key)))"""


@pytest.fixture(scope="module")
def keys_fig(nb):
    return new_figure(nb, KEYS)


def focus_canvas(nb, index, ax, x, y):
    nb.figure(index).scroll_into_view_if_needed()
    nb.page.mouse.click(*to_page(nb, index, ax, x, y))
    nb.page.wait_for_function(
        "(i) => document.activeElement === document.querySelectorAll('.nbagg-figure')[i].querySelector('canvas')",
        arg=index,
    )


def test_key_press_and_release_names(nb, keys_fig):
    focus_canvas(nb, keys_fig, "ax4", 1, 2)
    nb.execute("keys.clear()")
    keyboard = nb.page.keyboard
    for key in ("a", "Shift+A", "Control+a", "ArrowLeft"):
        keyboard.press(key)
    keys = poll(nb, "keys", lambda v: ["release", "left"] in v)
    presses = [k for kind, k in keys if kind == "press"]
    releases = [k for kind, k in keys if kind == "release"]
    for name in ("a", "A", "ctrl+a", "left"):
        assert name in presses, f"no key_press_event {name!r} in {keys}"
        assert name in releases, f"no key_release_event {name!r} in {keys}"
    assert "shift+A" not in presses and "shift+a" not in presses, keys
    # Pressed first, released after: 'a' goes down before it comes up.
    assert keys.index(["press", "a"]) < keys.index(["release", "a"])


def test_escape_is_not_sent_and_returns_focus_to_the_notebook(nb, keys_fig):
    focus_canvas(nb, keys_fig, "ax4", 1, 2)
    nb.execute("keys.clear()")
    nb.page.keyboard.press("Escape")
    nb.page.wait_for_function("() => !document.activeElement || !document.activeElement.matches('canvas.nbagg-canvas')")
    assert not focused_canvas(nb)
    # The notebook has the keyboard again: 'b' inserts a cell (removed again at once).
    cells = nb.cell_count()
    nb.page.keyboard.press("b")
    inserted = nb.cell_count() - cells
    if inserted:
        nb.call("deleteCell", nb.call("selectedIndex"))
    assert inserted == 1, "after Escape the notebook's 'b' shortcut did not insert a cell"
    # A key the figure does get, to know that everything sent before it has arrived.
    focus_canvas(nb, keys_fig, "ax4", 1, 2)
    nb.page.keyboard.press("z")
    keys = poll(nb, "keys", lambda v: ["release", "z"] in v)
    assert not [k for k in keys if k[1] == "escape"], keys


def test_notebook_shortcuts_do_not_fire_while_the_canvas_has_focus(nb, keys_fig):
    focus_canvas(nb, keys_fig, "ax4", 1, 2)
    nb.execute("keys.clear()")
    cells = nb.cell_count()
    types = nb.call("cellTypes")
    selected = nb.call("selectedIndex")
    # In command mode: a / b insert a cell, m makes it markdown, d d deletes it,
    # Shift-Enter runs it and moves on. Notebook 7 takes its shortcuts in the capture
    # phase, JupyterLab in the bubbling phase, the classic Notebook on the document.
    keyboard = nb.page.keyboard
    for key in ("a", "b", "m", "d", "d", "Shift+Enter", "y"):
        keyboard.press(key)
    keys = poll(nb, "keys", lambda v: ["release", "y"] in v)
    for name in ("a", "b", "m", "d", "shift+enter"):
        assert ["press", name] in keys, (name, keys)
    assert nb.cell_count() == cells
    assert nb.call("cellTypes") == types
    assert nb.call("selectedIndex") == selected
    assert focused_canvas(nb)


def test_ctrl_s_on_the_focused_canvas_still_saves_the_notebook(nb, keys_fig):
    nb.execute("keys.clear()")
    nb.call("markDirty")
    assert nb.call("dirty")
    focus_canvas(nb, keys_fig, "ax4", 1, 2)
    nb.page.keyboard.press("Control+s")
    nb.page.wait_for_function("() => !window.nbaggTest.dirty()", timeout=15_000)


# -------------------------------------------------------------------- 5. default keymap

KEYMAP = """fig5, ax5 = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax5.plot([1, 2, 3], [1, 10, 100])"""


def test_default_keymap_grid_log_and_pan(nb):
    index = new_figure(nb, KEYMAP)
    grid = "[bool(a.get_gridlines()[0].get_visible()) for a in (ax5.xaxis, ax5.yaxis)]"
    assert kernel_json(nb, f"[{grid}, ax5.get_yscale()]") == [[False, False], "linear"]
    focus_canvas(nb, index, "ax5", 2, 50)  # the keys act on the Axes under the mouse
    keyboard = nb.page.keyboard

    # matplotlib's 'g' steps the major grids (x, y) through off/off, on/off, on/on, off/on.
    keyboard.press("g")
    assert poll(nb, grid, lambda v: v == [True, False]) == [True, False], "'g' did not turn the x grid on"
    keyboard.press("g")
    assert poll(nb, grid, lambda v: v == [True, True]) == [True, True], "a second 'g' did not add the y grid"

    keyboard.press("l")
    assert poll(nb, "ax5.get_yscale()", lambda v: v == "log") == "log"
    keyboard.press("l")
    assert poll(nb, "ax5.get_yscale()", lambda v: v == "linear") == "linear"

    pan = button(nb, "pan", index)
    assert "nbagg-active" not in (pan.get_attribute("class") or "")
    keyboard.press("p")
    nb.page.wait_for_function(
        "(i) => document.querySelectorAll('.nbagg-figure')[i]"
        ".querySelector('button[data-action=pan]').classList.contains('nbagg-active')",
        arg=index,
        timeout=10_000,
    )
    assert kernel_json(nb, "fig5.canvas.toolbar.mode.name") == "PAN"


# ----------------------------------------------------------------------------- 6. widgets

WIDGETS = """from matplotlib.widgets import Button, CheckButtons, RectangleSelector, Slider, TextBox

fig6 = plt.figure(figsize=(6.4, 4.8), dpi=100)
ax6 = fig6.add_axes([0.1, 0.5, 0.85, 0.45])
xs = np.linspace(0, 1, 50)
wave, = ax6.plot(xs, np.sin(2 * np.pi * xs))
ax6.set_xlim(0, 1)
ax6.set_ylim(-2.5, 2.5)
slider = Slider(fig6.add_axes([0.25, 0.38, 0.6, 0.05]), 'amplitude', 0.0, 2.0, valinit=1.0)
slider.on_changed(lambda a: (wave.set_ydata(a * np.sin(2 * np.pi * xs)), fig6.canvas.draw_idle()))
textbox = TextBox(fig6.add_axes([0.25, 0.26, 0.4, 0.07]), 'name')
submitted = []
textbox.on_submit(submitted.append)
selected = []
selector = RectangleSelector(
    ax6, lambda press, release: selected.append((press.xdata, press.ydata, release.xdata, release.ydata)))
go = Button(fig6.add_axes([0.7, 0.05, 0.2, 0.1]), 'Go')
go_clicks = []
go.on_clicked(lambda e: go_clicks.append(int(e.button)))
check = CheckButtons(fig6.add_axes([0.05, 0.02, 0.3, 0.15]), ['visible'], [False])
checked = []
check.on_clicked(checked.append)"""


@pytest.fixture(scope="module")
def widgets_fig(nb):
    return new_figure(nb, WIDGETS)


def test_slider_drag_changes_the_line_and_the_pixels(nb, widgets_fig):
    nb.figure(widgets_fig).scroll_into_view_if_needed()
    nb.execute("slider_ax = slider.ax")
    pixels = digest(nb, widgets_fig)
    for _ in range(3):
        # JupyterLab may still move the page (an output above settling): a drag whose
        # page coordinates moved under it is not the drag asked for, so do it again.
        box = nb.canvas_box(widgets_fig)
        drag(nb, to_page(nb, widgets_fig, "slider_ax", 1.0, 0.5), to_page(nb, widgets_fig, "slider_ax", 1.5, 0.5))
        if nb.canvas_box(widgets_fig) == box:
            break
    tx, _ = one_pixel(nb, "slider_ax")
    value = poll(nb, "float(slider.val)", lambda v: abs(v - 1.5) <= tx)
    assert value == pytest.approx(1.5, abs=tx)
    peak = kernel_json(nb, "float(np.max(wave.get_ydata()))")
    assert peak == pytest.approx(value, rel=0.01)  # the callback set the line's amplitude
    wait_digest_change(nb, widgets_fig, pixels)


def test_textbox_typing_and_enter_submits(nb, widgets_fig):
    nb.figure(widgets_fig).scroll_into_view_if_needed()
    nb.execute("submitted.clear()")
    nb.page.mouse.click(*center_of(nb, widgets_fig, "textbox.ax"))
    assert poll(nb, "bool(textbox.capturekeystrokes)", bool), "the click did not start typing"
    nb.page.keyboard.type("hello")
    nb.page.keyboard.press("Enter")
    assert poll(nb, "submitted", lambda v: len(v) >= 1) == ["hello"]
    assert kernel_json(nb, "textbox.text") == "hello"


def test_rectangle_selector_drag_reports_its_extents(nb, widgets_fig):
    nb.figure(widgets_fig).scroll_into_view_if_needed()
    nb.execute("selected.clear()")
    drag(nb, to_page(nb, widgets_fig, "ax6", 0.2, -1.5), to_page(nb, widgets_fig, "ax6", 0.7, 1.0), steps=10)
    events = poll(nb, "selected", lambda v: len(v) >= 1)
    assert len(events) == 1, events
    tx, ty = one_pixel(nb, "ax6")
    x0, y0, x1, y1 = events[0]
    assert [x0, x1] == pytest.approx([0.2, 0.7], abs=tx) and [y0, y1] == pytest.approx([-1.5, 1.0], abs=ty)
    extents = kernel_json(nb, "[float(v) for v in selector.extents]")
    assert extents == pytest.approx([0.2, 0.7, -1.5, 1.0], abs=max(tx, ty))


def test_button_click_fires_on_clicked(nb, widgets_fig):
    nb.figure(widgets_fig).scroll_into_view_if_needed()
    nb.execute("go_clicks.clear()")
    nb.page.mouse.click(*center_of(nb, widgets_fig, "go.ax"))
    assert poll(nb, "go_clicks", lambda v: len(v) >= 1) == [1]


def test_check_buttons_click_toggles(nb, widgets_fig):
    nb.figure(widgets_fig).scroll_into_view_if_needed()
    nb.execute("checked.clear()")
    assert kernel_json(nb, "check.get_status()") == [False]
    label = center_of(nb, widgets_fig, "check.labels[0]")
    nb.page.mouse.click(*label)
    assert poll(nb, "check.get_status()", lambda v: v == [True]) == [True]
    nb.page.mouse.click(*label)
    assert poll(nb, "check.get_status()", lambda v: v == [False]) == [False]
    assert kernel_json(nb, "checked") == ["visible", "visible"]


# --------------------------------------------------------------------------- 7. animation

ANIMATION = """from matplotlib.animation import FuncAnimation

fig7, ax7 = plt.subplots(figsize=(6.4, 4.8), dpi=100)
xs7 = np.linspace(0, 2 * np.pi, 100)
line7, = ax7.plot(xs7, np.sin(xs7))

def update(i):
    line7.set_ydata(np.sin(xs7 + i / 5))
    return line7,

anim = FuncAnimation(fig7, update, interval=50, cache_frame_data=False)"""


def test_animation_runs_between_cells_and_stops(nb):
    index = new_figure(nb, ANIMATION)
    try:
        # The kernel is idle: the animation's timer keeps drawing and frames keep arriving.
        start = nb.frames(index)
        nb.wait_frames(index, start + 5)

        # A short cell still runs (and returns) while the animation plays...
        cell = add_cell(nb, "6 * 7")
        out = nb.cell_outputs(cell)
        assert [o.get("data", {}).get("text/plain") for o in out] == ["42"], out
        # ...and frames keep coming afterwards.
        after_cell = nb.frames(index)
        nb.wait_frames(index, after_cell + 5)
    finally:
        nb.execute("anim.event_source.stop()")

    nb.page.wait_for_timeout(500)  # frames already in flight land
    stopped = nb.frames(index)
    nb.page.wait_for_timeout(1000)
    assert nb.frames(index) == stopped, "frames kept arriving after anim.event_source.stop()"


# ---------------------------------------------------------------- 8. two views of one figure


def test_two_views_converge_after_a_pan_in_one(nb):
    first = new_figure(nb, "fig8, ax8 = plt.subplots(figsize=(6.4, 4.8), dpi=100)\nax8.plot([0, 1, 2], [0, 1, 4]);")
    second = figure_in_cell(nb, add_cell(nb, "display(fig8)"))
    assert second == first + 1
    nb.page.wait_for_function(f"() => ({CANVASES_DIFFER})([{first}, {second}]) === 0", timeout=10_000)
    before = digest(nb, first)
    xlim = kernel_json(nb, "[float(v) for v in ax8.get_xlim()]")

    nb.figure(first).scroll_into_view_if_needed()
    button(nb, "pan", first).click()
    for view in (first, second):  # the mode belongs to the figure: both toolbars show it
        nb.page.wait_for_function(
            "(i) => document.querySelectorAll('.nbagg-figure')[i]"
            ".querySelector('button[data-action=pan]').classList.contains('nbagg-active')",
            arg=view,
        )
    drag(nb, to_page(nb, first, "ax8", 1, 2), to_page(nb, first, "ax8", 0.5, 2))
    panned = poll(nb, "[float(v) for v in ax8.get_xlim()]", lambda v: v != xlim)
    assert panned[0] == pytest.approx(xlim[0] + 0.5, abs=0.05), (xlim, panned)

    wait_digest_change(nb, first, before)
    wait_digest_change(nb, second, before)
    wait_frames_still(nb, [first, second])  # the kernel has sent both views everything
    try:
        nb.page.wait_for_function(
            f"([i, j, before]) => ({CANVASES_DIFFER})([i, j]) === 0 && ({CANVAS_DIGEST})(i) !== before",
            arg=[first, second, before],
            timeout=10_000,
        )
    except Exception as err:
        differ = nb.page.evaluate(CANVASES_DIFFER, [first, second])
        raise AssertionError(f"the two views differ in {differ} bytes after the pan") from err


# --------------------------------------------------------- 9. a callback that raises


def test_a_raising_callback_shows_its_traceback_and_the_figure_stays_live(nb):
    code = (
        "fig9, ax9 = plt.subplots(figsize=(6.4, 4.8), dpi=100)\n"
        "ax9.plot([0, 1, 2], [0, 1, 4])\n\n"
        "def bad(e):\n"
        "    raise ValueError('boom')\n\n"
        "fig9.canvas.mpl_connect('button_press_event', bad)"
    )
    cell = add_cell(nb, code)
    index = figure_in_cell(nb, cell)
    nb.figure(index).scroll_into_view_if_needed()
    nb.page.mouse.click(*to_page(nb, index, "ax9", 1, 2))
    # innerText: only what is rendered (not hidden) counts. A traceback names the callback.
    shown = (
        "(k) => { const t = window.nbaggTest.outputText(k);"
        " return t.includes('ValueError') && t.includes('boom') && /in bad\\b/.test(t); }"
    )
    try:
        nb.page.wait_for_function(shown, arg=cell, timeout=10_000)
    except Exception as err:
        text = nb.call("outputText", cell)
        raise AssertionError(f"no traceback of bad() in the figure's cell; it shows:\n{text}") from err

    # Still interactive: a pan moves the limits.
    xlim = kernel_json(nb, "[float(v) for v in ax9.get_xlim()]")
    button(nb, "pan", index).click()
    nb.page.wait_for_function(
        "(i) => document.querySelectorAll('.nbagg-figure')[i]"
        ".querySelector('button[data-action=pan]').classList.contains('nbagg-active')",
        arg=index,
    )
    frames = nb.frames(index)
    drag(nb, to_page(nb, index, "ax9", 1, 2), to_page(nb, index, "ax9", 0.5, 2))
    panned = poll(nb, "[float(v) for v in ax9.get_xlim()]", lambda v: v != xlim)
    assert panned[0] == pytest.approx(xlim[0] + 0.5, abs=0.05), (xlim, panned)
    nb.wait_frames(index, frames)
    assert nb.figure(index).evaluate("f => f.dataset.nbaggState") == "live"


# ------------------------------------------------------------ 10. re-running a figure cell


def test_rerunning_a_figure_cell_keeps_one_figure(nb):
    nb.execute("plt.close('all')")
    assert kernel_json(nb, "plt.get_fignums()") == []
    cell = add_cell(nb, "fig10, ax10 = plt.subplots(figsize=(6.4, 4.8), dpi=100)\nax10.plot([0, 1, 2], [0, 1, 4]);")
    figure_in_cell(nb, cell)
    for _ in range(5):
        nb.run_cell(cell)
    # The output of the last run is the only one: one live view, one figure in the kernel.
    index = figure_in_cell(nb, cell)
    assert nb.cell(cell).locator(".nbagg-figure").count() == 1
    fignums = poll(nb, "plt.get_fignums()", lambda v: len(v) == 1, timeout=5)
    assert len(fignums) == 1, f"figures left in the kernel after 5 re-runs: {fignums}"
    assert nb.figure(index).evaluate("f => f.dataset.nbaggState") == "live"


def test_no_errors_in_the_page_console(nb):
    assert nb.console_errors == []


# ------------------------------------------------------------------ the acceptance notebook

ACCEPTANCE = Path(__file__).parent.parent / "notebooks" / "acceptance_interaction.ipynb"


def test_acceptance_notebook_runs_live_in_the_browser(browser, notebook_server):
    """notebooks/acceptance_interaction.ipynb, run top to bottom: every figure live, no errors."""
    name = f"acceptance-{uuid.uuid4().hex[:8]}.ipynb"
    shutil.copy(ACCEPTANCE, notebook_server.root / name)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = None
    try:
        page = NotebookPage(context.new_page(), notebook_server, name)
        page.run_all()
        views = 11  # one per section, two in section 8
        page.page.wait_for_function(
            "(n) => document.querySelectorAll('.nbagg-figure[data-nbagg-state=live]').length === n",
            arg=views,
            timeout=30_000,
        )
        assert page.problems() == []
        text = page.page.locator(page.frontend.cell).all_inner_texts()
        text = "\n".join(text)
        assert "figures from the re-run cell: 1" in text
        assert page.console_errors == []
    finally:
        if page is not None:  # this notebook's kernel only: the module's notebook keeps its own
            page.shutdown_session()
        context.close()
