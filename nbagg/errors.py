"""Show errors from user code (mpl_connect callbacks, animation functions) to the user.

A traceback printed from a comm handler would go to the kernel's terminal, where nobody
looks. Instead it is published as stderr output of the cell that displayed the figure
(the classic Notebook routes output by its parent message), and a one-line summary goes
to the figure's views.
"""

from __future__ import annotations

import logging
import traceback

log = logging.getLogger("nbagg")


def current_parent() -> dict | None:
    """The header of the request being handled now (the cell showing a figure)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return None
        try:
            return kernel.get_parent("shell")
        except TypeError:  # ipykernel without channel argument
            return kernel.get_parent()
    except Exception:
        return None


def publish_traceback(exc: BaseException, parent: dict | None, context: str) -> None:
    """Write ``exc``'s traceback as stderr output under ``parent`` (or the current cell)."""
    text = f"Exception in {context}:\n" + "".join(traceback.format_exception(exc))
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None or parent is None:
            raise LookupError("no kernel")
        content = {"name": "stderr", "text": text}
        kernel.session.send(kernel.iopub_socket, "stream", content, parent=parent, ident=b"stream.stderr")
    except Exception:
        log.error("nbagg: %s", text)
