"""Browser tests: real nbclassic, real headless Chromium, real kernel; pixels checked on the canvas."""

import pytest

pytestmark = pytest.mark.browser

LINE = "fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)\nax.plot([0, 1, 2], [0, 1, 4]);"


def test_first_paint(open_notebook):
    nb = open_notebook([LINE])
    nb.wait_live()
    px = nb.canvas_pixels()
    assert (px["width"], px["height"]) == (640, 480)
    data = px["data"]
    # Not blank: the figure has a white background and a blue line.
    assert any(data[i] < 100 and data[i + 2] > 150 for i in range(0, len(data), 4))
    nb.screenshot("first-paint.png")
    assert nb.console_errors == []
