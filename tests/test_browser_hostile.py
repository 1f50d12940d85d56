"""A notebook someone else made, with hostile or broken nbagg outputs, opened in every
front end: static images or a clear message, no script, nothing large, no restore."""

import base64
import io
import json
import secrets
import uuid
from pathlib import Path

import nbformat
import pytest
from browser_harness import SETUP, NotebookPage
from PIL import Image

pytestmark = pytest.mark.browser

CONSTANTS = json.loads((Path(__file__).parent.parent / "nbagg" / "constants.json").read_text())
MIME = CONSTANTS["mimeType"]
EVIL = "<img src=x onerror=alert(1)>"


def png_b64(width=64, height=48) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def figure_output(figure: object, png: str | None = None) -> dict:
    data = {MIME: figure, "text/plain": "<Figure>"}
    if png is not None:
        data["image/png"] = png
    return nbformat.v4.new_output("display_data", data=data, metadata={"image/png": {"width": 64, "height": 48}})


def own_state(figure_id: str) -> dict:
    """A state this user's kernels really signed (the tests' key), for `figure_id`."""
    from matplotlib.figure import Figure

    from nbagg.state import dump_figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([1, 2, 3])
    return dump_figure(fig, figure_id, 200_000)


def hostile_outputs() -> list[dict]:
    png = png_b64()
    fid = secrets.token_hex(16)  # a figure of some other kernel
    base = {"width": 64, "height": 48, "protocol": 1}
    own = own_state(fid)
    return [
        figure_output({**base, "figure_id": EVIL}, png),
        figure_output({**base, "figure_id": fid, "width": 1e9, "height": 1e9}, png),
        figure_output({**base, "figure_id": fid, "protocol": 99}, png),
        figure_output({**base, "figure_id": fid}, png),
        figure_output({**base, "figure_id": fid, "state": {"version": 2, "payload": "AAAA", "hmac": "00" * 32}}, png),
        # The user's own signed state, in a notebook they did not make (untrusted): under
        # its own id and replayed under another; with a forged view beside it.
        figure_output({**base, "figure_id": fid, "state": own, "view": {"axes": EVIL}}, png),
        figure_output({**base, "figure_id": secrets.token_hex(16), "state": own}, png),
        # Notes with markup and of absurd length; a state no kernel would accept.
        figure_output({**base, "figure_id": fid, "state_note": EVIL * 50_000}, png),
        figure_output(
            {**base, "figure_id": fid, "state": {"version": 2, "payload": "A" * 9_000_000, "hmac": "0"}}, png
        ),
        figure_output({**base, "figure_id": fid, "width": 16000, "height": 16000}, png),
        figure_output(f"<script>alert(1)</script>{EVIL}", png),
        figure_output(json.dumps({**base, "figure_id": EVIL}), None),
        figure_output({"figure_id": ["not", "a", "string"], "width": "wide"}, None),
    ]


def js_heap(page) -> float:
    """Bytes of JavaScript heap in use after a full garbage collection (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return metrics["JSHeapUsedSize"]
    finally:
        cdp.detach()


def test_a_hostile_notebook_renders_static_and_safe(browser, notebook_server):
    nb_file = nbformat.v4.new_notebook()
    nb_file.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("# made elsewhere")
    cell.outputs = hostile_outputs()
    nb_file.cells = [nbformat.v4.new_code_cell(SETUP), cell]
    name = f"hostile-{uuid.uuid4().hex[:8]}.ipynb"
    nbformat.write(nb_file, notebook_server.root / name)

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = None
    try:
        blank = context.new_page()
        heap_before = js_heap(blank)
        blank.close()
        page = NotebookPage(context.new_page(), notebook_server, name)
        dialogs = []
        page.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.run_cell(0)  # the kernel has nbagg: the views ask it for their figures
        page.page.wait_for_timeout(2000)
        outputs = page.outputs(1)
        # Every output shows something: a (static) figure view or a one-line message.
        shown = outputs.locator(".nbagg-figure, .nbagg-render-error")
        assert shown.count() == len(hostile_outputs())
        for text in outputs.locator(".nbagg-render-error").all_text_contents():
            assert text.startswith("nbagg: "), text
        assert page.page.locator(".nbagg-figure[data-nbagg-state=live]").count() == 0
        assert page.page.locator("img[src=x]").count() == 0 and dialogs == []
        assert page.page.locator(f"{page.frontend.output_area} script").count() == 0
        # Nothing large: no canvas beyond the clamp.
        max_pixels = CONSTANTS["maxPixels"]
        sizes = page.page.evaluate("() => [...document.querySelectorAll('canvas')].map((c) => c.width * c.height)")
        assert all(s <= max_pixels for s in sizes), sizes
        # Untrusted outputs never offer a restore, even with (forged or own) state, and
        # show no note from the file.
        assert page.page.locator("button.nbagg-action, .nbagg-explain").count() == 0
        # The tab stays responsive (a 16000x16000 claim once blocked it for 36 s) and its
        # memory stays small (it once grew by 8.5 GB).
        page.page.wait_for_function("() => true", timeout=5_000)
        grown = js_heap(page.page) - heap_before
        print(f"\nhostile notebook: JS heap after GC grew by {grown / 1e6:.1f} MB")
        assert grown < 150e6, f"the page's heap grew by {grown / 1e6:.0f} MB"
        # The tab stays responsive and the kernel is fine.
        assert page.eval("1 + 1") == 2
        assert page.cell_count() == 2
        assert page.console_errors == []
    finally:
        if page is not None:
            page.shutdown_session()
        context.close()
