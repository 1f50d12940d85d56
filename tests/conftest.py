import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    FRONTENDS,
    SETUP,
    NotebookPage,
    NotebookServer,
    selected_frontends,
    shutdown_kernels,
    write_notebook,
)
from kernel_harness import Kernel  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def private_state_key(tmp_path_factory):
    """Kernels and servers started by the tests sign figure state with a throwaway key."""
    path = tmp_path_factory.mktemp("nbagg-key") / "state.key"
    old = os.environ.get("NBAGG_STATE_KEY_FILE")
    os.environ["NBAGG_STATE_KEY_FILE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("NBAGG_STATE_KEY_FILE", None)
    else:
        os.environ["NBAGG_STATE_KEY_FILE"] = old


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    try:
        k.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt\nimport numpy as np")
        yield k
    finally:
        k.shutdown()


@pytest.fixture
def fresh_kernel():
    k = Kernel()
    try:
        yield k
    finally:
        k.shutdown()


@pytest.fixture(scope="session", params=selected_frontends())
def notebook_server(request, tmp_path_factory):
    """A real server for each front end (NBAGG_FRONTENDS): every browser test runs in each."""
    name = request.param
    root = tmp_path_factory.mktemp(f"notebooks-{name}")
    server = NotebookServer(root, tmp_path_factory.mktemp(f"jupyter-home-{name}"), FRONTENDS[name])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_notebook(browser, notebook_server):
    """open_notebook(cells, dpr=1) -> NotebookPage: write a notebook, open it in a new tab, run it."""
    contexts = []

    def _open(cells, dpr=1, run=True, setup=True, viewport=None):
        name = f"t-{uuid.uuid4().hex[:8]}.ipynb"
        write_notebook(notebook_server.root / name, ([SETUP] if setup else []) + list(cells))
        context = browser.new_context(
            device_scale_factor=dpr, accept_downloads=True, viewport=viewport or {"width": 1200, "height": 900}
        )
        contexts.append(context)
        nb = NotebookPage(context.new_page(), notebook_server, name)
        if run:
            nb.run_all()
        return nb

    yield _open
    for context in contexts:
        context.close()
    shutdown_kernels(notebook_server)
