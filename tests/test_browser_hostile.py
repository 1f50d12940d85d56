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


def hostile_outputs() -> list[dict]:
    png = png_b64()
    fid = secrets.token_hex(16)  # a figure of some other kernel
    base = {"width": 64, "height": 48, "protocol": 1}
    return [
        figure_output({**base, "figure_id": EVIL}, png),
        figure_output({**base, "figure_id": fid, "width": 1e9, "height": 1e9}, png),
        figure_output({**base, "figure_id": fid, "protocol": 99}, png),
        figure_output({**base, "figure_id": fid}, png),
        figure_output({**base, "figure_id": fid, "state": {"version": 2, "payload": "AAAA", "hmac": "00" * 32}}, png),
        figure_output(f"<script>alert(1)</script>{EVIL}", png),
        figure_output(json.dumps({**base, "figure_id": EVIL}), None),
        figure_output({"figure_id": ["not", "a", "string"], "width": "wide"}, None),
    ]


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
        # Untrusted outputs never offer a restore, even with (forged) state.
        assert page.page.locator("button.nbagg-action").count() == 0
        # The tab stays responsive and the kernel is fine.
        assert page.eval("1 + 1") == 2
        assert page.cell_count() == 2
        assert page.console_errors == []
    finally:
        if page is not None:
            page.shutdown_session()
        context.close()
