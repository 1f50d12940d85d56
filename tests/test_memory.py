"""Memory inside one running cell (issue 11, part 1): the kernel's event loop does not run
while a cell executes, so nothing a figure hands to that loop may keep it alive after
plt.close(). Before the fix every figure created and closed in a loop stayed in memory
(canvas, renderer, frames, manager: ~3 MB each) until the cell ended.
"""

import json

import pytest

WARMUP = 30  # first-use caches (fonts, text layout) settle; with matplotlib 3.9 15 were not enough
FIGURES = 40
# Per figure, far below one leaked 640x480 frame (1.2 MB) or renderer; RSS after
# gc.collect() is noisy by a few MB (allocator, caches), so the bound is on the total.
MAX_GROWTH_MB = 15.0

CYCLE = """
import gc, json, weakref
import nbagg.manager

def _rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20

def _cycle(n, show):
    refs = []
    for _ in range(n):
        fig = plt.figure(); plt.plot([1, 2, 3]); fig.canvas.draw()
        if show:
            plt.show()
        plt.close(fig)
        refs += [weakref.ref(fig), weakref.ref(fig.canvas), weakref.ref(fig.canvas.manager)]
    del fig
    gc.collect()
    return sum(r() is not None for r in refs)

def _managers_alive():
    return sum(isinstance(o, nbagg.manager.FigureManagerNbagg) for o in gc.get_objects())
"""


@pytest.mark.parametrize("show", [True, False], ids=["plt.show", "no-show"])
def test_figures_closed_inside_one_cell_are_freed_before_it_ends(kernel, show):
    kernel.execute(CYCLE)
    # Warm-up, the measurement and the checks all run in ONE cell: the loop never runs.
    code = (
        f"_cycle({WARMUP}, {show}); _before = _rss_mb(); _managers0 = _managers_alive()\n"
        f"_alive = _cycle({FIGURES}, {show})\n"
        "print(json.dumps([_alive, _rss_mb() - _before, _managers_alive() - _managers0, "
        "len(nbagg.manager.managers), len(plt.get_fignums())]))"
    )
    outputs = kernel.execute(code, timeout=120)
    kernel._pending.clear()
    text = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")
    alive, growth, managers, registered, open_figures = json.loads(text.strip().splitlines()[-1])
    assert alive == 0, f"{alive} figures, canvases or managers of closed figures are still alive"
    assert managers <= 0 and registered == 0 and open_figures == 0
    assert growth < MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB over {FIGURES} closed figures"


def test_a_closed_figure_still_referred_to_keeps_no_frames(kernel):
    """A closed figure the user keeps (a list of figures) holds only matplotlib's own data."""
    code = (
        "fig = plt.figure(); plt.plot([1, 2]); plt.show(); m = fig.canvas.manager\n"
        "had = m.frame is not None\n"
        "plt.close(fig)\n"
        "fig.canvas.draw()\n"  # drawing a closed figure records no frame either
        "print(json.dumps([had, m.frame is None, len(m._encoded), m.closed]))"
    )
    outputs = kernel.execute("import json\n" + code)
    text = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")
    assert json.loads(text.strip().splitlines()[-1]) == [True, True, 0, True]
