"""What only JupyterLab (and Notebook 7) has: new views of an output, consoles, themes,
windowed notebooks. The rest of the browser suite runs in every front end."""

import time

import pytest
from browser_harness import ARTIFACTS
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
    index = "(sel) => [...document.querySelectorAll('.nbagg-figure')].indexOf(document.querySelector(sel))"
    mine = nb.page.evaluate(index, ".jp-Notebook .nbagg-figure")
    clone = 1 - mine
    nb.figure(mine).scroll_into_view_if_needed()
    button(nb, "pan", mine).click()
    before = xlim(nb)
    frames = nb.frames(clone)
    drag(nb, page_xy(nb, 1, 2, mine), page_xy(nb, 0.5, 2, mine))
    assert xlim(nb)[0] == pytest.approx(before[0] + 0.5, abs=0.05)
    nb.wait_frames(clone, frames)  # the cloned view got the panned frame too
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
    ARTIFACTS.mkdir(exist_ok=True)
    nb.figure().screenshot(path=str(ARTIFACTS / f"{nb.frontend.name}-dark-theme.png"))
    nb.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert nb.console_errors == []


@pytest.mark.parametrize("notebook_server", ["lab", "notebook7"], indirect=True)
def test_windowed_notebook_keeps_one_view_per_figure(open_notebook):
    """Virtual scrolling ('full' windowing) detaches cells that scroll out of sight."""
    filler = [f"print('cell {k}\\n' * 20)" for k in range(30)]
    nb = open_notebook([LINE, *filler], run=False)
    nb.page.evaluate(
        """() => { const p = [...window.jupyterapp.shell.widgets('main')].find((w) => w.content && w.sessionContext);
            p.content.notebookConfig = {...p.content.notebookConfig, windowingMode: 'full'}; }"""
    )
    nb.run_all()
    scroller = nb.page.locator(nb.frontend.scroller).first
    scroller.evaluate("(s) => { s.scrollTop = 0; }")
    nb.wait_live()
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
    errors = nb.console_errors
    import jupyterlab  # the servers run from this environment (Notebook 7 is built on it)

    if tuple(int(v) for v in jupyterlab.__version__.split(".")[:2]) < (4, 1):
        # JupyterLab 4.0's 'full' windowing (opt-in there; 'defer' is its default) detaches
        # cells behind Lumino's back and then fails to remove an output's node (a
        # removeChild NotFoundError in its own layout code). Listed in the README's limits;
        # nothing else may be logged.
        errors = [e for e in errors if "Failed to execute 'removeChild' on 'Node'" not in e]
    assert errors == []


@pytest.mark.parametrize("notebook_server", ["lab"], indirect=True)
def test_closing_and_reopening_the_notebook_tab_makes_figures_live_again(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    nb.save()
    name = nb.name
    nb.page.evaluate(
        """async (path) => { const app = window.jupyterapp;
            for (const w of [...app.shell.widgets('main')]) if (w.context && w.context.path === path) w.dispose();
            await app.commands.execute('docmanager:open', {path}); }""",
        name,
    )
    nb.wait_kernel()
    nb.wait_live()
    assert wait_kernel_views(nb, 1) == 1  # the closed tab's view is gone from the kernel
    before = xlim(nb)
    button(nb, "pan").click()
    drag(nb, page_xy(nb, 1, 2), page_xy(nb, 0.5, 2))
    assert xlim(nb)[0] == pytest.approx(before[0] + 0.5, abs=0.05)
    assert nb.console_errors == []


@pytest.mark.parametrize("notebook_server", ["lab", "notebook7"], indirect=True)
def test_changing_the_kernel_leaves_static_not_connected_figures(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    nb.page.evaluate(
        """() => { const p = [...window.jupyterapp.shell.widgets('main')].find((w) => w.content && w.sessionContext);
            return p.sessionContext.changeKernel({name: 'python3'}); }"""
    )
    nb.page.wait_for_function(
        "() => { const f = document.querySelector('.nbagg-figure');"
        " return f.dataset.nbaggState === 'disconnected' && /not available|kernel/.test(f.textContent); }",
        timeout=30_000,
    )
    nb.wait_kernel()
    nb.page.wait_for_timeout(1000)
    assert nb.figure().get_attribute("data-nbagg-state") == "disconnected"
    assert nb.figure().locator(".nbagg-note").is_visible()
    assert nb.console_errors == []


@pytest.mark.parametrize("notebook_server", ["lab"], indirect=True)
def test_comm_messages_on_a_subshell_still_run_matplotlib_on_the_main_thread(open_notebook):
    code = (
        LINE + "\nimport threading\non_main = []\n"
        "fig.canvas.mpl_connect('button_press_event',"
        " lambda e: on_main.append(threading.current_thread() is threading.main_thread()))"
    )
    nb = open_notebook([code])
    nb.wait_live()
    lab = tuple(int(v) for v in nb.page.evaluate("() => window.jupyterapp.version").split(".")[:2])
    kernel = nb.eval("__import__('ipykernel').version_info[0]")
    subshells = nb.eval(
        "len(k.shell_channel_thread.manager.list_subshell())"
        " if (k := get_ipython().kernel) and getattr(k, '_supports_kernel_subshells', False) else 0"
    )
    if lab >= (4, 4) and kernel >= 7:
        # JupyterLab sends comm messages on a subshell of their own (one per comm target).
        assert subshells >= 1
    nb.page.mouse.click(*page_xy(nb, 1, 2))
    deadline = time.monotonic() + 10
    while not nb.eval("on_main") and time.monotonic() < deadline:
        nb.page.wait_for_timeout(100)
    assert nb.eval("on_main") == [True]
    assert nb.console_errors == []
