"""What only JupyterLab (and Notebook 7) has: new views of an output, consoles, themes,
windowed notebooks. The rest of the browser suite runs in every front end."""

import time

import pytest
from test_browser import LINE, button, drag, page_xy, xlim

pytestmark = pytest.mark.browser

LIVE = "(n) => document.querySelectorAll('.nbagg-figure[data-nbagg-state=live]').length === n"


def kernel_views(nb, figure="fig"):
    return nb.eval(f"len({figure}.canvas.manager.views)")


def wait_kernel_views(nb, n, timeout=15.0):
    deadline = time.monotonic() + timeout
    while kernel_views(nb) != n and time.monotonic() < deadline:
        nb.page.wait_for_timeout(200)
    return kernel_views(nb)


@pytest.mark.parametrize("notebook_server", ["lab"], indirect=True)
def test_new_view_for_output_is_live_and_in_sync(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    nb.page.evaluate(
        """() => { const p = [...window.jupyterapp.shell.widgets('main')].find((w) => w.content && w.sessionContext);
            p.content.activeCellIndex = 1;
            return window.jupyterapp.commands.execute('notebook:create-output-view'); }"""
    )
    nb.page.wait_for_function(LIVE, arg=2, timeout=30_000)
    assert wait_kernel_views(nb, 2) == 2
    button(nb, "pan").click()
    before = xlim(nb)
    frames = nb.frames(1)
    drag(nb, page_xy(nb, 1, 2), page_xy(nb, 0.5, 2))
    assert xlim(nb)[0] == pytest.approx(before[0] + 0.5, abs=0.05)
    nb.wait_frames(1, frames)  # the cloned view got the panned frame too
    # Closing the new view's tab leaves the figure and its notebook view alone.
    nb.page.evaluate(
        """() => { for (const w of window.jupyterapp.shell.widgets('main'))
            if (!w.sessionContext && w.node.querySelector('.nbagg-figure')) w.close(); }"""
    )
    nb.page.wait_for_function(LIVE, arg=1, timeout=10_000)
    assert wait_kernel_views(nb, 1) == 1
    assert nb.eval("plt.get_fignums()") == [1]
    assert nb.console_errors == []


@pytest.mark.parametrize("notebook_server", ["lab"], indirect=True)
def test_figure_in_a_code_console_is_live(open_notebook):
    nb = open_notebook([], run=False)
    code = (
        "%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 3), dpi=100); ax.plot([0, 1, 2], [0, 1, 4]);"
    )
    nb.page.evaluate(
        """async (code) => {
            const panel = await window.jupyterapp.commands.execute('console:create', {kernelPreference: {name: 'python3'}});
            await panel.sessionContext.ready;
            panel.console.promptCell.model.sharedModel.setSource(code);
            await panel.console.execute(true);
        }""",
        code,
    )
    figure = nb.page.locator(".jp-CodeConsole .nbagg-figure")
    figure.wait_for(timeout=30_000)
    nb.page.wait_for_function(
        "() => { const f = document.querySelector('.jp-CodeConsole .nbagg-figure');"
        " return f && f.dataset.nbaggState === 'live' && Number(f.dataset.nbaggFrames) >= 1; }",
        timeout=30_000,
    )
    # The toolbar works there too: Zoom becomes the active mode.
    figure.locator("button[data-action=zoom]").click()
    nb.page.wait_for_function(
        "() => document.querySelector('.jp-CodeConsole .nbagg-figure button[data-action=zoom]')"
        ".classList.contains('nbagg-active')",
        timeout=10_000,
    )
    assert nb.console_errors == []


@pytest.mark.parametrize("notebook_server", ["lab", "notebook7"], indirect=True)
def test_toolbar_follows_the_dark_theme(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    style = """() => { const b = document.querySelector('.nbagg-figure .nbagg-button');
        const s = getComputedStyle(b); const root = getComputedStyle(document.body);
        return {bg: s.backgroundColor, fg: s.color, layout: root.getPropertyValue('--jp-layout-color1').trim()}; }"""
    light = nb.page.evaluate(style)
    nb.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    nb.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    nb.page.wait_for_function(f"(before) => ({style})().bg !== before", arg=light["bg"], timeout=10_000)
    dark = nb.page.evaluate(style)
    luminance = lambda rgb: sum(int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])  # noqa: E731
    assert luminance(dark["bg"]) < luminance(light["bg"]) and luminance(dark["fg"]) > luminance(light["fg"]), (
        light,
        dark,
    )
    nb.figure().screenshot(path=str(nb.screenshot("x").parent / f"{nb.frontend.name}-dark-theme.png"))
    nb.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert nb.console_errors == []


@pytest.mark.parametrize("notebook_server", ["lab"], indirect=True)
def test_windowed_notebook_keeps_one_view_per_figure(open_notebook):
    """Virtual scrolling ('full' windowing) detaches cells that scroll out of sight."""
    filler = [f"print('cell {k}\\n' * 20)" for k in range(30)]
    nb = open_notebook([LINE, *filler], run=False)
    nb.page.evaluate(
        """() => { const p = [...window.jupyterapp.shell.widgets('main')].find((w) => w.content && w.sessionContext);
            p.content.notebookConfig = {...p.content.notebookConfig, windowingMode: 'full'}; }"""
    )
    nb.run_all()
    nb.wait_live()
    scroller = nb.page.locator(nb.frontend.scroller).first
    for _ in range(3):
        scroller.evaluate("(s) => { s.scrollTop = s.scrollHeight; }")
        nb.page.wait_for_timeout(500)
        scroller.evaluate("(s) => { s.scrollTop = 0; }")
        nb.page.wait_for_timeout(500)
    nb.wait_live()
    assert nb.page.locator(".nbagg-figure").count() == 1
    assert wait_kernel_views(nb, 1) == 1
    assert nb.eval("plt.get_fignums()") == [1]
    button(nb, "pan").click()
    before = xlim(nb)
    drag(nb, page_xy(nb, 1, 2), page_xy(nb, 0.5, 2))
    assert xlim(nb)[0] == pytest.approx(before[0] + 0.5, abs=0.05)
    assert nb.console_errors == []
