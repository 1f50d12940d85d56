"""The wheel a user installs: built from this checkout (npm runs during the build), then
installed into a clean venv next to JupyterLab and run there without Node.js."""

import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from browser_harness import FRONTENDS, SETUP, NotebookPage, NotebookServer, write_notebook

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parent.parent


def path_without_node() -> str:
    """PATH minus every directory that holds `node` or `npm`: users need neither."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if not any(Path(d, tool).exists() for tool in ("node", "npm"))
    ]
    return os.pathsep.join(keep)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=900,
    )
    (path,) = out.glob("nbagg-*.whl")
    return path


def test_wheel_carries_both_prebuilt_front_ends(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if ".data/data/" in n]
    lab = "share/jupyter/labextensions/nbagg/"
    assert any(n.endswith(lab + "package.json") for n in data), data
    assert any(n.endswith(lab + "install.json") for n in data), data
    assert any(lab + "static/remoteEntry." in n for n in data), data
    assert any(n.endswith("share/jupyter/nbextensions/nbagg/extension.js") for n in data), data
    assert any(n.endswith("etc/jupyter/nbconfig/notebook.d/nbagg.json") for n in data), data
    assert "nbagg/constants.json" in names
    assert not any("node_modules" in n or n.startswith("js/") for n in names)


def test_wheel_in_a_clean_venv_gives_live_figures_in_jupyterlab_without_node(wheel, tmp_path, browser):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # jupyterlab in the range pyproject.toml declares (PIP_CONSTRAINT, if set, picks the version).
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel), "jupyterlab>=4.0,<5"], check=True, timeout=900
    )
    env = dict(os.environ, PATH=os.pathsep.join([str(venv / "bin"), path_without_node()]))
    assert shutil.which("node", path=env["PATH"]) is None
    listed = subprocess.run(
        [str(venv / "bin" / "jupyter"), "labextension", "list"], env=env, capture_output=True, text=True, check=True
    )
    text = listed.stdout + listed.stderr
    line = next((ln for ln in text.splitlines() if "nbagg" in ln), "")
    assert "enabled" in line and "OK" in line, text

    root = tmp_path / "root"
    root.mkdir()
    name = f"pkg-{uuid.uuid4().hex[:8]}.ipynb"
    write_notebook(
        root / name, [SETUP, "fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\nax.plot([0, 1, 2], [0, 1, 4]);"]
    )
    server = NotebookServer(root, tmp_path / "home", FRONTENDS["lab"], jupyter=str(venv / "bin" / "jupyter"), env=env)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        nb = NotebookPage(context.new_page(), server, name)
        nb.run_all()
        nb.wait_live()
        assert nb.eval("__import__('nbagg').__file__").startswith(str(venv))
        assert nb.console_errors == []
    finally:
        context.close()
        server.stop()
