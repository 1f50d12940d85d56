"""Browser tests: every front end (see browser_harness.FRONTENDS), real headless Chromium, real kernel; pixels checked on the canvas."""

import io
import re

import pytest
from browser_harness import ARTIFACTS
from PIL import Image

pytestmark = pytest.mark.browser

LINE = "fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)\nax.plot([0, 1, 2], [0, 1, 4]);"


def page_xy(nb, x, y, index=0):
    """Page coordinates (CSS px) of data point (x, y) on the figure's canvas."""
    dx, dy = nb.eval(f"[float(v) for v in ax.transData.transform(({x}, {y})) / fig.canvas.device_pixel_ratio]")
    box = nb.canvas_box(index)
    return box["x"] + dx, box["y"] + box["height"] - dy


def xlim(nb):
    return nb.eval("[float(v) for v in ax.get_xlim()]")


def drag(nb, start, end, steps=8):
    mouse = nb.page.mouse
    mouse.move(*start)
    mouse.down()
    mouse.move(*end, steps=steps)
    mouse.up()


def settle(nb, index=0):
    """Wait until the view has drawn everything the kernel has sent so far."""
    before = nb.frames(index)
    nb.eval("1")
    nb.page.wait_for_timeout(300)
    return before


def button(nb, action, index=0):
    return nb.figure(index).locator(f"button[data-action={action}]")


def test_first_paint(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    px = nb.canvas_pixels()
    assert (px["width"], px["height"], px["cssWidth"], px["cssHeight"]) == (640, 480, 640, 480)
    data = px["data"]
    blue = sum(1 for i in range(0, len(data), 4) if data[i] < 100 and data[i + 2] > 150)
    assert blue > 300, "the plotted line is not on the canvas"
    assert nb.console_errors == []


def test_pan_drag_changes_the_kernel_limits(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    before = xlim(nb)
    button(nb, "pan").click()
    nb.page.wait_for_function(
        "() => document.querySelector('button[data-action=pan]').classList.contains('nbagg-active')"
    )
    frames = nb.frames()
    drag(nb, page_xy(nb, 1, 2), page_xy(nb, 0.5, 2))
    nb.wait_frames(0, frames)
    after = xlim(nb)
    assert after[0] == pytest.approx(before[0] + 0.5, abs=0.05) and after[1] == pytest.approx(before[1] + 0.5, abs=0.05)
    assert nb.figure().locator("canvas.nbagg-canvas").evaluate("c => c.style.cursor") == "move"
    assert nb.console_errors == []


def test_zoom_rectangle_home_back_forward(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    original = xlim(nb)
    assert button(nb, "back").is_disabled() and button(nb, "forward").is_disabled()
    button(nb, "zoom").click()
    nb.page.wait_for_function(
        "() => document.querySelector('button[data-action=zoom]').classList.contains('nbagg-active')"
    )
    mouse = nb.page.mouse
    mouse.move(*page_xy(nb, 0.5, 1))
    mouse.down()
    mouse.move(*page_xy(nb, 1.5, 3), steps=6)
    # The rubber band is drawn by the browser on its overlay while the button is down.
    nb.page.wait_for_function(
        """() => { const c = document.querySelector('canvas.nbagg-rubberband');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }"""
    )
    assert nb.figure().locator("canvas.nbagg-canvas").evaluate("c => c.style.cursor") == "crosshair"
    frames = nb.frames()
    mouse.up()
    nb.wait_frames(0, frames)
    zoomed = xlim(nb)
    assert zoomed == pytest.approx([0.5, 1.5], abs=0.03)
    nb.page.wait_for_function("() => !document.querySelector('button[data-action=back]').disabled")
    button(nb, "back").click()
    nb.page.wait_for_function("() => !document.querySelector('button[data-action=forward]').disabled")
    assert xlim(nb) == pytest.approx(original)
    button(nb, "forward").click()
    nb.page.wait_for_function("() => document.querySelector('button[data-action=forward]').disabled")
    assert xlim(nb) == pytest.approx(zoomed)
    button(nb, "home").click()
    nb.page.wait_for_timeout(300)
    assert xlim(nb) == pytest.approx(original)
    assert nb.console_errors == []


def test_status_line_shows_data_coordinates(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    nb.page.mouse.move(*page_xy(nb, 1.25, 2.5))
    status = nb.figure().locator(".nbagg-status")
    nb.page.wait_for_function("() => /\\d/.test(document.querySelector('.nbagg-status').textContent)")
    numbers = [float(n) for n in re.findall(r"-?\d+\.\d+", status.text_content())]
    assert numbers[:2] == pytest.approx([1.25, 2.5], abs=0.02), status.text_content()


def test_download_png_is_a_valid_file(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    nb.figure().locator("select.nbagg-download-format").select_option("png")
    with nb.page.expect_download() as info:
        button(nb, "download").click()
    download = info.value
    assert download.suggested_filename.endswith(".png")
    image = Image.open(io.BytesIO(open(download.path(), "rb").read()))
    image.verify()
    assert Image.open(download.path()).size == (640, 480)


def test_resize_handle_changes_the_figure_size(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    handle = nb.figure().locator(".nbagg-resize-handle").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    frames = nb.frames()
    drag(nb, (x, y), (x + 100, y + 50), steps=10)
    nb.wait_frames(0, frames)
    nb.page.wait_for_function("() => document.querySelector('canvas.nbagg-canvas').width === 740", timeout=10_000)
    size = nb.eval("[round(float(v)) for v in fig.get_size_inches() * fig.dpi]")
    assert size == [740, 530]
    px = nb.canvas_pixels()
    assert (px["width"], px["height"]) == (740, 530)


def test_hidpi_backing_store_and_click_mapping(open_notebook):
    cells = [
        LINE + "\nclicks = []\n"
        "fig.canvas.mpl_connect('button_press_event', lambda e: clicks.append((e.xdata, e.ydata)))"
    ]
    nb = open_notebook(cells, dpr=2)
    nb.wait_live()
    px = nb.canvas_pixels()
    assert (px["width"], px["height"]) == (1280, 960)
    assert (px["cssWidth"], px["cssHeight"]) == (640, 480)
    nb.page.mouse.click(*page_xy(nb, 1.5, 3))
    nb.page.wait_for_timeout(200)
    x, y = nb.eval("clicks[-1]")
    # One CSS pixel is 2/400 of a data unit in x here; allow a pixel.
    assert x == pytest.approx(1.5, abs=0.01) and y == pytest.approx(3, abs=0.02)


def test_close_leaves_a_static_image(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    output = nb.outputs(1)
    button(nb, "close").click()
    nb.page.wait_for_function(
        "() => document.querySelectorAll('.nbagg-figure[data-nbagg-state=live]').length === 0", timeout=10_000
    )
    image = output.locator("img").first
    image.wait_for()
    assert image.evaluate("i => i.complete && i.naturalWidth > 0")
    assert output.locator("canvas.nbagg-canvas").count() == 0
    assert nb.eval("plt.get_fignums()") == []
    nb.screenshot("closed-figure.png")
    assert nb.console_errors == []


def test_demo_notebook_runs_live_in_the_browser(open_notebook, notebook_server):
    """notebooks/demo.ipynb, run top to bottom: every figure live, no errors; screenshot for the README."""
    import shutil
    from pathlib import Path

    import nbformat

    demo = Path(__file__).parent.parent / "notebooks" / "demo.ipynb"
    shutil.copy(demo, notebook_server.root / "demo.ipynb")
    nb = open_notebook([], run=False, setup=False)
    nb.open("demo.ipynb")
    nb.run_all()
    expected_live = 6  # fig, two in a loop, fig2 twice (closed at the end), fig3
    nb.page.wait_for_function(
        "() => document.querySelectorAll('.nbagg-figure[data-nbagg-state=live]').length >= 4", timeout=30_000
    )
    assert nb.problems() == []
    live = nb.page.locator(".nbagg-figure[data-nbagg-state=live]").count()
    assert live == expected_live - 2  # the two views of fig2 became static images when it closed
    assert nbformat.validate(nbformat.read(demo, as_version=4)) is None
    assert nb.console_errors == []
    first = nb.figure(0)
    first.scroll_into_view_if_needed()
    nb.page.mouse.move(*page_xy(nb, 6, 0.5))
    nb.page.wait_for_function("() => /\\d/.test(document.querySelector('.nbagg-status').textContent)")
    # The README's pictures (docs/live-figure-*.png) are copies of these screenshots.
    ARTIFACTS.mkdir(exist_ok=True)
    first.screenshot(path=str(ARTIFACTS / f"live-figure-{nb.frontend.name}.png"))
    nb.page.screenshot(path=str(ARTIFACTS / f"demo-page-{nb.frontend.name}.png"))


def test_plt_pause_loop_updates_the_figure_while_the_cell_runs(open_notebook):
    loop = (
        "fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\n"
        "for i in range(12):\n    ax.set_title(f'step {i}', fontsize=20)\n    plt.pause(0.25)"
    )
    nb = open_notebook([loop], run=False)
    nb.call("runAll")
    nb.figure().wait_for(timeout=30_000)
    digest = """() => { const c = document.querySelector('canvas.nbagg-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, Math.min(c.height, 60)).data;
        let h = 0; for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i]) | 0; return h; }"""
    seen = set()
    while nb.call("cellBusy", 1):
        seen.add(nb.page.evaluate(digest))
        nb.page.wait_for_timeout(100)
    assert len(seen) >= 3, "the figure did not change on screen while the loop ran"
    nb.wait_live()  # and it is live once the cell is done
    assert nb.console_errors == []


def test_scroll_reaches_matplotlib_and_capture_scroll_decides_page_scrolling(open_notebook):
    cells = [
        LINE + "\nsteps = []\nfig.canvas.mpl_connect('scroll_event', lambda e: steps.append(e.step))",
        "print('\\n' * 200)",  # room for the page to scroll
    ]
    nb = open_notebook(cells)
    nb.wait_live()
    site = f"() => document.querySelector({nb.frontend.scroller!r}).scrollTop"

    def wheel_over_figure():
        box = nb.canvas_box()
        nb.page.mouse.move(box["x"] + 300, box["y"] + 200)
        before = nb.page.evaluate(site)
        nb.page.mouse.wheel(0, 200)
        nb.page.wait_for_timeout(400)
        return nb.page.evaluate(site) - before

    assert wheel_over_figure() > 0  # default: the page scrolls too (documented)
    assert nb.eval("steps")[-1] < 0
    nb.execute("fig.canvas.capture_scroll = True")
    nb.page.wait_for_timeout(200)
    count = len(nb.eval("steps"))
    assert wheel_over_figure() == 0
    assert len(nb.eval("steps")) > count  # matplotlib still got it


def test_text_from_the_kernel_is_inserted_as_text(open_notebook):
    evil = "<img src=x onerror=alert(1)>"
    cells = [
        LINE + f"\nfig.canvas.manager.set_window_title({evil!r})\n"
        f"def bad(e):\n    raise ValueError({evil!r})\n"
        "fig.canvas.mpl_connect('button_press_event', bad)"
    ]
    nb = open_notebook(cells)
    dialogs = []
    nb.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    fig = nb.wait_live()
    nb.page.wait_for_function(f"() => document.querySelector('.nbagg-title').textContent === {evil!r}")
    nb.page.mouse.click(*page_xy(nb, 1, 2))
    nb.page.wait_for_function(
        f"() => document.querySelector('.nbagg-error').textContent.includes({evil!r})", timeout=10_000
    )
    nb.page.wait_for_timeout(500)
    assert dialogs == []
    assert (
        fig.locator("img[src=x]").count() == 0 and nb.page.locator(f"{nb.frontend.output_area} img[src=x]").count() == 0
    )
