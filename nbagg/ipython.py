"""IPython integration: ``%load_ext nbagg``, ``%matplotlib notebook``, end-of-cell display.

``%load_ext nbagg`` wraps the ``%matplotlib`` magic so that ``notebook`` and ``nbagg``
select this backend; every other argument goes to IPython's own magic unchanged.
"""

from __future__ import annotations

import threading
import time

from matplotlib._pylab_helpers import Gcf
from matplotlib.figure import Figure

from . import mainloop

BACKEND = "module://nbagg"
_ROUTED = {"notebook", "nbagg"}

_original_magic = None
_hooked_shell = None


def _matplotlib_magic(line: str = ""):
    """%matplotlib, with `notebook` and `nbagg` routed to nbagg (see `%matplotlib?`)."""
    parts = line.split()
    for i, part in enumerate(parts):
        if not part.startswith("-") and part.lower() in _ROUTED:
            parts[i] = BACKEND
    return _original_magic(" ".join(parts))


def load_ipython_extension(ip) -> None:
    global _original_magic
    if _original_magic is None:
        _original_magic = ip.find_line_magic("matplotlib")
        _matplotlib_magic.__doc__ = _original_magic.__doc__
    ip.register_magic_function(_matplotlib_magic, "line", "matplotlib")


def unload_ipython_extension(ip) -> None:
    global _original_magic
    if _original_magic is not None:
        ip.register_magic_function(_original_magic, "line", "matplotlib")
        _original_magic = None


def install_hooks() -> None:
    """Called when the backend is imported inside IPython: display and flush hooks."""
    global _hooked_shell
    from IPython import get_ipython

    ip = get_ipython()
    if ip is None or ip is _hooked_shell:
        return
    _hooked_shell = ip
    ip.events.register("pre_run_cell", _before_cell)
    ip.events.register("post_execute", flush_figures)
    ip.events.register("post_run_cell", _after_cell)
    ip.display_formatter.ipython_display_formatter.for_type(Figure, _display_figure)


def flush_figures() -> None:
    """After each cell (and each comm message: the comm package fires post_execute around
    them): show figures created meanwhile; bring shown ones that changed up to date.

    A figure with live views gets a frame (the browser stores what is on screen when the
    notebook is saved). A figure nobody watches (nbconvert, nbclient, a front end without
    the extension) gets its outputs' image/png replaced, so exports show the final state.
    """
    # A comm message handled on a subshell thread (ipykernel 7, JupyterLab >= 4.4) may
    # come while a cell runs on the main thread: a figure that cell made would be shown
    # under the comm message (an output no front end shows) and be lost. New figures are
    # left to the cell's own post_execute; shown ones are brought up to date on the main
    # thread (figure work never leaves it, see mainloop.py).
    if threading.current_thread() is not threading.main_thread():
        mainloop.call_soon(_update_shown)
        return
    _update_shown(show_pending=True)


def _update_shown(show_pending: bool = False) -> None:
    from .manager import FigureManagerNbagg

    for manager in Gcf.get_all_fig_managers():
        if not isinstance(manager, FigureManagerNbagg) or manager.closed:
            continue
        if manager.pending_show:
            if show_pending:
                manager.display()
        elif manager.shown and manager.canvas.figure.stale:
            if manager.views:
                manager.canvas.draw_idle()
            else:
                manager.publish_update()


def _before_cell(info=None) -> None:
    mainloop.set_cell_running(True)


def _after_cell(result=None) -> None:
    """Acknowledgements could not be heard while the cell ran: views get a new grace period.

    post_run_cell fires for cells only; post_execute also fires around every comm message,
    and a grace period there would keep a crashed tab's view alive while any other view
    acknowledges frames.
    """
    from .manager import FigureManagerNbagg

    mainloop.set_cell_running(False)
    now = time.monotonic()
    for manager in Gcf.get_all_fig_managers():
        if isinstance(manager, FigureManagerNbagg):
            for view in manager.views.values():
                view.excuse(now)


def _display_figure(fig: Figure) -> None:
    """display(fig) and a figure as a cell's value: one more live output for it."""
    from .manager import FigureManagerNbagg

    manager = fig.canvas.manager
    if isinstance(manager, FigureManagerNbagg) and not manager.closed:
        manager.display()
        return
    # Not one of ours (the user switched backends, or the figure is closed):
    # display it as IPython would without this formatter.
    from IPython import get_ipython
    from IPython.display import display

    printers = get_ipython().display_formatter.ipython_display_formatter.type_printers
    ours = printers.pop(Figure, None)
    try:
        display(fig)
    finally:
        if ours is not None:
            printers[Figure] = ours
