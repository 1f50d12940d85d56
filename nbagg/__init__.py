"""nbagg: live, interactive matplotlib figures in Jupyter notebooks over comms.

Select it with ``%load_ext nbagg`` then ``%matplotlib notebook``, or with
``%matplotlib module://nbagg`` / ``matplotlib.use("module://nbagg")``.
This module is the matplotlib backend: matplotlib reads ``FigureCanvas`` and
``FigureManager`` from it.
"""

from . import comm, mainloop
from .canvas import FigureCanvasNbagg
from .ipython import install_hooks, load_ipython_extension, unload_ipython_extension
from .manager import FigureManagerNbagg
from .settings import configure

__version__ = "0.1.0"

FigureCanvas = FigureCanvasNbagg
FigureManager = FigureManagerNbagg

__all__ = ["FigureCanvas", "FigureManager", "configure", "load_ipython_extension", "unload_ipython_extension"]


# Importing the backend inside a kernel wires it up: the main loop is found now (we are
# on the main thread), the comm target registered, the end-of-cell hook installed.
mainloop.main_loop()
comm.register_target()
install_hooks()
