"""Figures outlive the page: saved frames, reloads, second tabs, kernel restarts (browser)."""

import base64
import io
import json

import numpy as np
import pytest
from browser_harness import NotebookPage
from PIL import Image
from test_browser import LINE, button, drag, page_xy, xlim

pytestmark = pytest.mark.browser


def saved_figure_output(nb, cell=1):
    path = nb.server.root / nb.name
    notebook = json.loads(path.read_text())
    outputs = [o for o in notebook["cells"][cell]["outputs"] if o["output_type"] == "display_data"]
    assert len(outputs) == 1
    return outputs[0]


def save(nb):
    nb.save()


def canvas_array(nb, index=0):
    px = nb.canvas_pixels(index)
    return np.array(px["data"], dtype=np.int16).reshape(px["height"], px["width"], 4)


def settle(nb, index=0, quiet_ms=600):
    """Wait until the view has drawn no new frame for ``quiet_ms`` (the kernel is done)."""
    nb.eval("1")
    last = nb.frames(index)
    while True:
        nb.page.wait_for_timeout(quiet_ms)
        now = nb.frames(index)
        if now == last:
            return
        last = now


def pan_by(nb, dx_data):
    frames = nb.frames()
    drag(nb, page_xy(nb, 1, 2), page_xy(nb, 1 - dx_data, 2))
    nb.wait_frames(0, frames)
    settle(nb)


def test_save_writes_the_frame_on_screen(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    button(nb, "pan").click()
    pan_by(nb, 0.5)
    save(nb)
    output = saved_figure_output(nb)
    png = Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"]))).convert("RGBA")
    saved = np.asarray(png, dtype=np.int16)
    on_screen = canvas_array(nb)
    assert saved.shape == on_screen.shape
    assert np.abs(saved - on_screen).mean() < 1.0
    assert output["metadata"]["image/png"] == {"width": 640, "height": 480}
    # The kernel's own first frame (before the pan) differs: the saved image is the panned one.
    assert nb.eval("ax.get_xlim()[0]") > 0


def test_reload_makes_figures_live_again(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    save(nb)
    before = xlim(nb)
    nb.page.reload()
    nb.wait_kernel()
    nb.wait_live()
    assert nb.page.locator(".nbagg-figure").count() == 1  # no duplicate
    button(nb, "pan").click()
    pan_by(nb, 0.5)
    after = xlim(nb)
    assert after[0] == pytest.approx(before[0] + 0.5, abs=0.05)
    assert nb.console_errors == []


def test_second_tab_views_converge(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    save(nb)
    other = NotebookPage(nb.page.context.new_page(), nb.server, nb.name)
    other.wait_live()
    button(other, "pan").click()
    frames = nb.frames()
    pan_by(other, 0.5)
    nb.wait_frames(0, frames)
    # Both views converge to identical pixels (frames may still be in flight: poll).
    for _ in range(50):
        if np.array_equal(canvas_array(nb), canvas_array(other)):
            break
        nb.page.wait_for_timeout(200)
    assert np.array_equal(canvas_array(nb), canvas_array(other))
    assert xlim(nb)[0] == pytest.approx(xlim(other)[0])
    # iopub is shared by both tabs, so the classic Notebook in each tab logs "Comm promise
    # not found" for the other tab's comms: its own logging, not an nbagg error.
    foreign = "Comm promise not found for comm id"
    assert [e for e in other.console_errors + nb.console_errors if not e.startswith(foreign)] == []


def test_kernel_restart_leaves_static_not_connected_figures(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    shown = canvas_array(nb)
    nb.restart_kernel()
    nb.page.wait_for_function(
        "() => document.querySelector('.nbagg-figure').dataset.nbaggState === 'disconnected'", timeout=30_000
    )
    nb.wait_kernel()
    # The view tries the new kernel, which does not know the figure: not connected.
    nb.page.wait_for_function(
        "() => { const f = document.querySelector('.nbagg-figure');"
        " return f.dataset.nbaggState === 'disconnected' && /not available/.test(f.textContent); }",
        timeout=30_000,
    )
    figure = nb.figure()
    assert figure.locator(".nbagg-note").is_visible()
    assert np.abs(canvas_array(nb) - shown).mean() < 1.0  # the last frame stays on screen
    assert nb.console_errors == []


def test_restore_after_kernel_restart_from_the_stored_state(open_notebook):
    nb = open_notebook([LINE + "\nax.set_xlim(0.25, 1.75)"])
    nb.wait_live()
    shown = canvas_array(nb)
    nb.restart_kernel()
    nb.page.wait_for_function(
        "() => document.querySelector('.nbagg-figure').dataset.nbaggState === 'disconnected'", timeout=30_000
    )
    nb.wait_kernel()
    # The new kernel activates the backend (the setup cell), then the user restores.
    nb.run_cell(0)
    restore = nb.figure().locator("button.nbagg-action")
    restore.wait_for(timeout=15_000)
    assert restore.text_content() == "Restore figure"
    restore.click()
    nb.page.wait_for_function(
        "() => document.querySelector('.nbagg-figure').dataset.nbaggState === 'live'", timeout=15_000
    )
    assert nb.eval("[list(f.axes[0].get_xlim()) for f in map(plt.figure, plt.get_fignums())]") == [[0.25, 1.75]]
    nb.page.wait_for_timeout(300)
    assert np.abs(canvas_array(nb) - shown).mean() < 1.0  # same artists, data and limits
    button(nb, "pan").click()
    frames = nb.frames()
    box = nb.canvas_box()
    drag(nb, (box["x"] + 320, box["y"] + 240), (box["x"] + 220, box["y"] + 240))
    nb.wait_frames(0, frames)
    assert nb.eval("plt.gcf().axes[0].get_xlim()[0]") > 0.3
    assert nb.console_errors == []


def restart_and_offer_restore(nb):
    """Restart the kernel, run the setup cell again and return the figure's note."""
    nb.restart_kernel()
    nb.page.wait_for_function(
        "() => document.querySelector('.nbagg-figure').dataset.nbaggState === 'disconnected'", timeout=30_000
    )
    nb.wait_kernel()
    nb.run_cell(0)
    return nb.figure().locator(".nbagg-note")


def test_a_notebook_saved_after_a_pan_restores_the_panned_view(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    button(nb, "pan").click()
    pan_by(nb, 0.5)
    panned = xlim(nb)
    # The signed view reaches the output once the pan settles (1 s); then save.
    nb.page.wait_for_timeout(1500)
    save(nb)
    saved = saved_figure_output(nb)["data"]["application/vnd.nbagg.figure.v1+json"]
    assert set(saved) >= {"state", "view"} and saved["view"]["base"] == saved["state"]["hmac"]
    assert len(json.dumps(saved["view"])) < 1000
    nb.reload()  # the page now reads the notebook from disk
    nb.wait_live()
    note = restart_and_offer_restore(nb)
    restore = note.locator("button.nbagg-action")
    restore.wait_for(timeout=15_000)
    restore.click()
    nb.page.wait_for_function(
        "() => document.querySelector('.nbagg-figure').dataset.nbaggState === 'live'", timeout=15_000
    )
    assert nb.eval("list(plt.gcf().axes[0].get_xlim())") == pytest.approx(panned, abs=1e-6)
    assert nb.console_errors == []


def test_a_figure_over_the_state_limit_explains_instead_of_offering_restore(open_notebook):
    nb = open_notebook(
        ["import numpy as np\nfig, ax = plt.subplots()\nax.scatter(np.random.rand(100_000), np.random.rand(100_000))"]
    )
    nb.wait_live()
    save(nb)
    saved = saved_figure_output(nb)["data"]["application/vnd.nbagg.figure.v1+json"]
    assert "state" not in saved and "larger than the" in saved["state_note"]
    note = restart_and_offer_restore(nb)
    explain = note.locator(".nbagg-explain")
    explain.wait_for(timeout=15_000)
    text = explain.text_content()
    assert text.startswith("Restore is not possible:") and "nbagg.configure(max_state_bytes=" in text
    assert note.locator("button.nbagg-action").count() == 0
    nb.screenshot("state-over-the-limit.png")
    assert nb.console_errors == []
