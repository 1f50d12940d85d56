"""The one place where work is handed to the kernel's main event loop.

matplotlib is not thread-safe. ipykernel 7 may run comm handlers on a subshell thread,
so every entry point that can be called from the outside (comm open, comm message,
timer) goes through :func:`call_soon`, which runs the work on the main thread's asyncio
loop: the same loop that runs cells, so figure work never overlaps user code.
We start no thread of our own. :func:`interruptible` lets Kernel > Interrupt stop a long
draw that runs between requests.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import threading
import weakref
from collections.abc import Callable, Iterator

log = logging.getLogger("nbagg")

_loop: asyncio.AbstractEventLoop | None = None


def main_loop() -> asyncio.AbstractEventLoop | None:
    """The kernel's main asyncio loop, found once from the main thread."""
    global _loop
    if _loop is None and threading.current_thread() is threading.main_thread():
        try:
            _loop = asyncio.get_running_loop()
        except RuntimeError:
            _loop = _kernel_loop()
    return _loop


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    io_loop = getattr(kernel, "io_loop", None)
    return getattr(io_loop, "asyncio_loop", None)


def _guarded(fn: Callable, args: tuple) -> None:
    try:
        fn(*args)
    except Exception:  # never let figure work take the kernel's loop down
        log.exception("nbagg: error in %s", getattr(fn, "__qualname__", fn))


# Work other threads handed over, in the order it came. The loop runs it; so does a
# running cell's flush_events() or plt.pause() (run_handed_over), as a GUI backend's event
# loop would, so input reaches matplotlib while a loop in a cell animates a figure.
_handed_over: collections.deque[tuple[Callable, tuple]] = collections.deque()


def call_soon(fn: Callable, *args) -> None:
    """Run ``fn(*args)`` on the main loop: later in this thread, or handed over from another."""
    loop = main_loop()
    if loop is None or loop.is_closed():
        _guarded(fn, args)  # no kernel loop (plain Python): nothing can run concurrently
    elif threading.current_thread() is threading.main_thread():
        loop.call_soon(_guarded, fn, args)
    else:
        _handed_over.append((fn, args))
        loop.call_soon_threadsafe(run_handed_over)


def run_handed_over() -> None:
    """Run, on the main thread, the work other threads handed over (call_soon), in order."""
    if threading.current_thread() is not threading.main_thread():
        return
    while True:
        try:
            fn, args = _handed_over.popleft()
        except IndexError:
            return
        _guarded(fn, args)


_cell_running = False


def cell_running() -> bool:
    """A cell is executing: the loop does not run until it ends (ipython.py keeps this)."""
    return _cell_running


def set_cell_running(running: bool) -> None:
    global _cell_running
    _cell_running = running


def on_main_thread(fn: Callable) -> Callable:
    """Decorate a handler that may be called from any thread: run it on the main loop.

    On the main thread it runs at once (keeps ordering with the caller); elsewhere it is
    queued on the main loop.
    """

    def wrapper(*args):
        if threading.current_thread() is threading.main_thread():
            _guarded(fn, args)
        else:
            call_soon(fn, *args)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@contextlib.contextmanager
def interruptible() -> Iterator[bool]:
    """Let Kernel > Interrupt raise KeyboardInterrupt in figure work run between requests.

    ipykernel ignores SIGINT outside its request handlers, so a long draw the kernel runs
    after a cell could not be interrupted. Yields whether it enabled that (main thread,
    SIGINT ignored); inside a cell the interrupt already reaches the cell.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    ):
        yield False
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def call_later(delay: float, fn: Callable, *args) -> asyncio.TimerHandle | None:
    """Schedule ``fn`` on the main loop after ``delay`` seconds (main thread only)."""
    loop = main_loop()
    if loop is None or loop.is_closed():
        return None
    return loop.call_later(delay, _guarded, fn, args)


def weakly(method: Callable) -> Callable:
    """``method`` (a bound method) as a callable that holds its object only weakly.

    Work handed to the loop must not keep a figure alive: while a cell runs the loop does
    not run, and every canvas or manager its queue referred to (with the renderer's
    buffers and the frames, a few MB per figure) stayed in memory until the cell ended
    even after plt.close(). A collected object is a closed figure: its work is dropped.
    """
    ref = weakref.WeakMethod(method)

    def call(*args):
        target = ref()
        if target is not None:
            target(*args)

    call.__qualname__ = getattr(method, "__qualname__", "weakly")
    return call
