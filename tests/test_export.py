"""Headless execution (nbconvert, nbclient): every figure's output ends with its final state."""

import base64
import io
import subprocess
import sys
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
from nbformat.v4 import new_code_cell, new_notebook
from PIL import Image

from nbagg.protocol import MIME_TYPE

SETUP = "%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt"
MAKE = "fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\nax.plot([0, 1, 2], [0, 1, 4])"
CHANGE = "ax.set_title('Title from cell three')\nax.set_xlim(0.5, 2)"


def reference_png() -> np.ndarray:
    """The same figure drawn by plain Agg in this process."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"backend": "agg"}):
        fig = Figure(figsize=(4, 3), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot([0, 1, 2], [0, 1, 4])
        ax.set_title("Title from cell three")
        ax.set_xlim(0.5, 2)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=100)
    return np.asarray(Image.open(out).convert("RGBA"), dtype=np.int16)


def write(tmp_path: Path) -> Path:
    nb = new_notebook(cells=[new_code_cell(SETUP), new_code_cell(MAKE), new_code_cell(CHANGE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "later-cell.ipynb"
    nbformat.write(nb, path)
    return path


def figure_output(nb) -> dict:
    outputs = [o for o in nb.cells[1].outputs if o.output_type == "display_data"]
    assert len(outputs) == 1, nb.cells[1].outputs
    return outputs[0]


def decode(output) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(output.data["image/png"]))).convert("RGBA"), np.int16)


def assert_matches_reference(image: np.ndarray) -> None:
    expected = reference_png()
    assert image.shape == expected.shape
    assert np.abs(image - expected).mean() < 0.5, "the exported figure differs from the Agg reference"


def test_nbconvert_execute_exports_the_final_state(tmp_path):
    path = write(tmp_path)
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter), "nbconvert", "--to", "notebook", "--execute", str(path), "--output", "out.ipynb"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    output = figure_output(nb)
    assert MIME_TYPE in output.data and output.metadata["image/png"] == {"width": 400, "height": 300}
    assert_matches_reference(decode(output))
    # Without the title the image would differ from the reference: the check can fail.
    assert not np.array_equal(decode(output)[:40], np.full_like(decode(output)[:40], 255))


def test_nbconvert_html_export_holds_the_image(tmp_path):
    path = write(tmp_path)
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter), "nbconvert", "--to", "html", "--execute", str(path), "--output", "out.html"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    html = (tmp_path / "out.html").read_text()
    images = []
    for chunk in html.split("data:image/png;base64,")[1:]:  # the template has small icons too
        data = chunk[: chunk.index('"')]
        images.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"), np.int16))
    figures = [image for image in images if image.shape[:2] == (300, 400)]
    assert len(figures) == 1
    assert_matches_reference(figures[0])


def test_nbclient_execution_updates_the_earlier_output(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(write(tmp_path), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert_matches_reference(decode(figure_output(nb)))
