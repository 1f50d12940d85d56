"""A real nbclassic server on 127.0.0.1 and real headless Chromium, driven by Playwright.

Nothing here skips: if the browser or the server cannot start, the test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat

CHROMIUM = os.environ.get("NBAGG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
SETUP = "%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt\nimport numpy as np"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotebookServer:
    """nbclassic serving ``root``, with its own Jupyter dirs so the user's config is not read."""

    def __init__(self, root: Path, home: Path, ready_timeout: float = 90):
        self.root = root
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            IPYTHONDIR=str(home / "ipython"),
            MPLBACKEND="agg",
            PYDEVD_DISABLE_FILE_VALIDATION="1",  # quiets the debugger's frozen-modules warning
        )
        jupyter = shutil.which("jupyter", path=os.path.dirname(sys.executable)) or "jupyter"
        cmd = [
            jupyter,
            "nbclassic",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.token={self.token}",
            "--ServerApp.disable_check_xsrf=False",
            f"--notebook-dir={root}",
            "--allow-root",
        ]
        self.log_path = home / "server.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=root)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nbclassic exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"nbclassic did not start in {timeout}s:\n{self.log_path.read_text()}")

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def stop(self) -> None:
        self.proc.terminate()  # our own pid only; the server shuts its kernels down
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


class NotebookPage:
    """One open notebook in one tab, with helpers to run cells and ask the kernel."""

    def __init__(self, page, server: NotebookServer, name: str):
        self.page = page
        self.server = server
        self._console_errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self._console_errors.append(m.text))
        page.on("pageerror", lambda e: self._console_errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and self._console_errors.append(f"HTTP {r.status} {r.url}"))
        self.open(name)

    @property
    def console_errors(self) -> list[str]:
        """Errors in the page, without nbclassic's own probe for the (absent) ipywidgets extension."""
        return [
            e
            for e in self._console_errors
            if "nbextensions/widgets/" not in e and not e.startswith("Failed to load resource")
        ]

    def open(self, name: str) -> None:
        self.page.goto(self.server.notebook_url(name))
        self.wait_kernel()

    def wait_kernel(self, timeout: float = 60_000) -> None:
        self.page.wait_for_function(
            "() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel &&"
            " Jupyter.notebook.kernel.is_connected() && Jupyter.notebook.kernel.comm_manager",
            timeout=timeout,
        )

    def run_all(self, timeout: float = 60_000) -> None:
        self.page.evaluate("() => Jupyter.notebook.execute_all_cells()")
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 60_000) -> None:
        self.page.wait_for_function(
            "() => Jupyter.notebook.get_cells().every(c => !c.element || !c.element.hasClass('running'))"
            " && Jupyter.notebook.kernel._msg_queue !== undefined",
            timeout=timeout,
        )
        self.eval("1")  # round trip: everything queued before has run

    def execute(self, code: str, timeout: float = 30_000) -> str:
        """Run code in the page's kernel (not as a cell); return its stdout, raise on error."""
        result = self.page.evaluate(
            """([code, timeout]) => new Promise((resolve, reject) => {
                let out = '';
                const timer = setTimeout(() => reject(new Error('kernel did not answer')), timeout);
                Jupyter.notebook.kernel.execute(code, {
                    iopub: {
                        output: (m) => {
                            if (m.msg_type === 'stream') out += m.content.text;
                            if (m.msg_type === 'error') out += '\\n' + m.content.ename + ': ' + m.content.evalue;
                        },
                        status: (m) => {
                            if (m.content.execution_state === 'idle') { clearTimeout(timer); resolve(out); }
                        },
                    },
                }, {silent: false, store_history: false});
            })""",
            [code, timeout],
        )
        return result

    def eval(self, expr: str):
        """The value of a kernel-side expression, through JSON (numpy -> lists/floats)."""
        code = f"import json as _j, numpy as _n; print(_j.dumps(_n.asarray({expr}, dtype=object).tolist()))"
        out = self.execute(code)
        try:
            return json.loads(out)
        except json.JSONDecodeError as err:
            raise AssertionError(f"kernel said: {out}") from err

    def figure(self, index: int = 0):
        return self.page.locator(".nbagg-figure").nth(index)

    def wait_live(self, index: int = 0, frames: int = 1, timeout: float = 30_000):
        fig = self.figure(index)
        fig.wait_for(timeout=timeout)
        self.page.wait_for_function(
            "([i, n]) => { const f = document.querySelectorAll('.nbagg-figure')[i];"
            " return f && f.dataset.nbaggState === 'live' && Number(f.dataset.nbaggFrames) >= n; }",
            arg=[index, frames],
            timeout=timeout,
        )
        return fig

    def frames(self, index: int = 0) -> int:
        return int(self.figure(index).get_attribute("data-nbagg-frames"))

    def wait_frames(self, index: int, more_than: int, timeout: float = 15_000) -> None:
        self.page.wait_for_function(
            "([i, n]) => Number(document.querySelectorAll('.nbagg-figure')[i].dataset.nbaggFrames) > n",
            arg=[index, more_than],
            timeout=timeout,
        )

    def canvas_pixels(self, index: int = 0) -> dict:
        """Size and RGBA bytes of a figure's canvas backing store, read in the page."""
        return self.page.evaluate(
            """(i) => {
                const c = document.querySelectorAll('.nbagg-figure')[i].querySelector('canvas.nbagg-canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                return {width: c.width, height: c.height, cssWidth: c.clientWidth, cssHeight: c.clientHeight,
                        data: Array.from(d)};
            }""",
            index,
        )

    def canvas_box(self, index: int = 0) -> dict:
        return self.figure(index).locator("canvas.nbagg-canvas").bounding_box()

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path


def shutdown_kernels(server: NotebookServer) -> None:
    """Stop every kernel the server runs (between tests), through its REST API."""
    headers = {"Authorization": f"token {server.token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{server.url}/api/kernels", headers=headers)) as r:
        kernels = json.load(r)
    for k in kernels:
        req = urllib.request.Request(f"{server.url}/api/kernels/{k['id']}", method="DELETE", headers=headers)
        urllib.request.urlopen(req).close()
