# Experiment: demand.py + fast_png.py + inflight4.py (see README.md). Run via bench.py only.
from pathlib import Path as _XPath

_x_here = _XPath(_patch_file).parent  # noqa: F821 - set by bench.py before running a patch
for _x_name in ("inflight4.py", "fast_png.py", "demand.py"):
    exec(compile((_x_here / _x_name).read_text(), str(_x_here / _x_name), "exec"))
