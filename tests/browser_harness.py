"""Real Jupyter servers (nbclassic, JupyterLab, Notebook 7) on 127.0.0.1 and real headless Chromium, driven by Playwright.

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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Frontend:
    """One Jupyter front end the browser suite runs against, and how tests reach it."""

    name: str
    command: tuple[str, ...]  # after `jupyter`
    bridge: str  # tests/frontends/<bridge>.js: the same test operations in every front end
    cell: str  # CSS selector of a notebook cell
    output_area: str  # CSS selector of a cell's output area
    scroller: str  # CSS selector of the element that scrolls the notebook

    def notebook_path(self, name: str) -> str:
        if self.name == "classic":
            from nbclassic import nbclassic_path  # /nbclassic when Notebook 7 is installed too

            return f"{nbclassic_path()}/notebooks/{name}"
        if self.name == "lab":
            # A workspace of its own: JupyterLab would otherwise reopen every notebook of
            # earlier tests in the shared default workspace.
            return f"/lab/workspaces/{name.removesuffix('.ipynb')}/tree/{name}"
        return f"/notebooks/{name}"


LAB_QUIET = (
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
)
FRONTENDS = {
    "classic": Frontend(
        "classic", ("nbclassic",), "classic", cell=".cell", output_area=".output_area", scroller="#site"
    ),
    "lab": Frontend(
        "lab",
        ("lab", *LAB_QUIET, "--LabApp.expose_app_in_browser=True"),
        "lab",
        cell=".jp-Notebook .jp-Cell",
        output_area=".jp-OutputArea",
        scroller=".jp-WindowedPanel-outer",
    ),
    "notebook7": Frontend(
        "notebook7",
        (
            "notebook",
            *LAB_QUIET,  # JupyterLab's server extension runs beside Notebook 7's
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ),
        "lab",
        cell=".jp-Notebook .jp-Cell",
        output_area=".jp-OutputArea",
        scroller=".jp-WindowedPanel-outer",
    ),
}


def selected_frontends() -> list[str]:
    """NBAGG_FRONTENDS (comma-separated names), by default every front end."""
    names = [n.strip() for n in os.environ.get("NBAGG_FRONTENDS", ",".join(FRONTENDS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in FRONTENDS]
    if unknown:
        raise ValueError(f"NBAGG_FRONTENDS: unknown front end(s) {unknown}; known: {list(FRONTENDS)}")
    return names


class NotebookServer:
    """A Jupyter server for one front end, serving ``root``, with its own Jupyter dirs so
    the user's config is not read."""

    def __init__(
        self,
        root: Path,
        home: Path,
        frontend: Frontend = FRONTENDS["classic"],
        ready_timeout: float = 90,
        jupyter: str | None = None,
        env: dict | None = None,
    ):
        self.root = root
        self.frontend = frontend
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        env = dict(env if env is not None else os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            IPYTHONDIR=str(home / "ipython"),
            MPLBACKEND="agg",
            PYDEVD_DISABLE_FILE_VALIDATION="1",  # quiets the debugger's frozen-modules warning
        )
        # JupyterLab's and Notebook 7's settings: no question about fetching Jupyter news;
        # no windowing, because tests find cells and figures by their place in the page
        # (the windowing test turns it on for its own notebook).
        settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
        for plugin, values in (
            ("apputils-extension/notification", {"fetchNews": "false"}),
            ("notebook-extension/tracker", {"windowingMode": "none"}),
        ):
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        jupyter = jupyter or shutil.which("jupyter", path=os.path.dirname(sys.executable)) or "jupyter"
        cmd = [
            jupyter,
            *frontend.command,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.token={self.token}",
            "--ServerApp.disable_check_xsrf=False",
            f"--ServerApp.root_dir={root}",
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
                raise RuntimeError(
                    f"{self.frontend.name} server exited ({self.proc.returncode}):\n{self.log_path.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.frontend.name} server did not start in {timeout}s:\n{self.log_path.read_text()}")

    def notebook_url(self, name: str) -> str:
        return f"{self.url}{self.frontend.notebook_path(name)}?token={self.token}"

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


BRIDGES = Path(__file__).parent / "frontends"
FOREIGN_COMM_CLOSE = "Comm not found for comm id "
# Errors the front ends log on their own, with or without nbagg.
HOST_NOISE = (
    "nbextensions/widgets/",  # nbclassic probes for the (absent) ipywidgets nbextension
    "Failed to load resource",  # ... and logs the 404, as JupyterLab does for optional settings
    "HTTP 404",
    # Notebook 7.6's settings registry, on the first run of a cell (seen in a plain
    # notebook with no figure; the stack lies wholly in notebook_core.js).
    "Cannot read properties of undefined (reading 'schema')",
    # Notebook 7.0 (the oldest supported), in a plain notebook too: its save-time
    # indicator and its cell toolbar (stacks wholly in Notebook's own bundles).
    "Cannot read properties of undefined (reading 'last_modified')",
    "Cannot read properties of null (reading 'type')",
    # JupyterLab's debugger asks the kernel for its state when a panel connects; a kernel
    # restarted at once (a reload, then Restart) cancels that request. JupyterLab 4.6
    # logs it; 4.0 leaves it uncaught.
    "Canceled future for debug_request message before replies were done",
)


class NotebookPage:
    """One open notebook in one tab, with helpers to run cells and ask the kernel.

    Everything front-end specific goes through ``window.nbaggTest``, the test bridge
    (tests/frontends/*.js) injected into every page before the front end loads.
    """

    def __init__(self, page, server: NotebookServer, name: str):
        self.page = page
        self.server = server
        self.frontend = server.frontend
        self.name = name
        self._console_errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self._console_errors.append(m.text))
        page.on("pageerror", lambda e: self._console_errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and self._console_errors.append(f"HTTP {r.status} {r.url}"))
        page.add_init_script(path=str(BRIDGES / f"{self.frontend.bridge}.js"))
        self.open(name)

    @property
    def console_errors(self) -> list[str]:
        """Errors in the page, without the front ends' own probes for absent resources
        (nbclassic asks for the ipywidgets nbextension; JupyterLab for optional settings)."""
        errors = [e for e in self._console_errors if not any(noise in e for noise in HOST_NOISE)]
        foreign = [e for e in errors if e.startswith(FOREIGN_COMM_CLOSE)]
        if foreign:
            # JupyterLab logs a close of a comm it does not have: on a kernel shared by
            # two tabs, the comms of the other tab. Only this page's own comms count.
            own = set(self.call("ownComms"))
            errors = [e for e in errors if not e.startswith(FOREIGN_COMM_CLOSE) or e.split()[-1] in own]
        return errors

    def call(self, method: str, *args):
        """Call a bridge method in the page (awaiting it if it returns a promise)."""
        return self.page.evaluate("([m, a]) => window.nbaggTest[m](...a)", [method, list(args)])

    def open(self, name: str) -> None:
        self.page.goto(self.server.notebook_url(name))
        self.wait_kernel()

    def reload(self) -> None:
        self.page.reload()
        self.wait_kernel()

    def wait_kernel(self, timeout: float = 60_000) -> None:
        self.page.wait_for_function("() => window.nbaggTest && window.nbaggTest.ready()", timeout=timeout)

    def cell(self, k: int):
        """The locator of notebook cell k (scrolled into view)."""
        self.call("reveal", k)
        return self.page.locator(f'[data-nbagg-cell="{k}"]')

    def outputs(self, k: int):
        """The locator of cell k's output area."""
        return self.cell(k).locator(self.frontend.output_area)

    def run_all(self, timeout: float = 60_000) -> None:
        self.call("runAll")
        self.wait_idle(timeout)

    def run_cell(self, k: int, wait: bool = True) -> None:
        self.call("runCell", k)
        if wait:
            self.wait_idle()

    def add_cell(self, code: str, wait: bool = True) -> int:
        """Append a code cell and run it as the user would; its index."""
        k = self.call("appendCell", code)
        self.run_cell(k, wait)
        return k

    def cell_outputs(self, k: int) -> list[dict]:
        """Cell k's outputs as nbformat JSON, from the front end's notebook model."""
        return self.call("cellOutputs", k)

    def cell_errors(self, k: int) -> list[str]:
        return ["\n".join(o["traceback"]) for o in self.cell_outputs(k) if o.get("output_type") == "error"]

    def problems(self) -> list[str]:
        """Every error and stderr output in the notebook."""
        return [
            f"{o['ename']}: {o['evalue']}" if o["output_type"] == "error" else "".join(o["text"])
            for o in self.call("allOutputs")
            if o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
        ]

    def cell_count(self) -> int:
        return self.call("cellCount")

    def save(self, timeout: float = 10_000) -> None:
        """Save as the user would (the front end's save, which lets the views store their frames)."""
        self.call("save")
        self.page.wait_for_function("() => !window.nbaggTest.dirty()", timeout=timeout)

    def restart_kernel(self) -> None:
        self.call("restart")

    def interrupt_kernel(self) -> None:
        self.call("interrupt")

    def start(self, code: str) -> None:
        """Send code to the kernel without waiting; last_reply() gets the execute reply."""
        self.call("start", code)

    def last_reply(self):
        return self.page.evaluate("() => window.nbaggTest.lastReply")

    def shutdown_session(self) -> None:
        self.call("shutdownSession")

    def wait_idle(self, timeout: float = 60_000) -> None:
        self.page.wait_for_function("() => !window.nbaggTest.busy()", timeout=timeout)
        self.eval("1")  # round trip: everything queued before has run

    def execute(self, code: str, timeout: float = 30_000) -> str:
        """Run code in the page's kernel (not as a cell); return its stdout.

        A request ipykernel aborted without running it (it raced the abort window after
        an interrupted cell) is sent again, as the kernel harness does.
        """
        for _ in range(3):
            result = self.call("execute", code, timeout)
            if result["reply"].get("status") != "aborted":
                break
        return result["stdout"]

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
        path = ARTIFACTS / f"{self.frontend.name}-{name}"
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
