"""A restricted unpickler for stored figure states.

A figure's pickle names the classes and functions it is rebuilt from; a plain unpickler
imports and calls whatever it names. This one only looks up names that are already
imported (it never imports: a module next to the notebook is never run by a restore),
and only from an allow-list: classes defined in matplotlib or mpl_toolkits, the few numpy
and standard-library objects a figure pickle refers to, and an explicit set of functions.
Functions are listed one by one because some in these packages run programs or load
full pickles (``numpy.load(..., allow_pickle=True)``).

This narrows what a restore can reach; it is not a sandbox. The signature check in
state.py runs first and is what keeps other people's payloads out.
"""

from __future__ import annotations

import inspect
import io
import pickle
import sys
import types
from typing import Any

# Any class defined in these packages may be rebuilt: artists, transforms, tickers...,
# and the dateutil rules and time zones of date axes (a matplotlib dependency).
_CLASS_PACKAGES = ("matplotlib", "mpl_toolkits", "dateutil.rrule", "dateutil.tz", "dateutil.relativedelta")

# Modules of those packages whose classes run programs or write files; none is in a figure.
_REFUSED_MODULES = (
    "matplotlib.animation",
    "matplotlib.backends",
    "matplotlib.dviread",
    "matplotlib.sphinxext",
    "matplotlib.testing",
    "matplotlib.texmanager",
)

# Everything else, by the (module, qualified name) the pickle uses. numpy renamed
# numpy.core to numpy._core in 2.0: both spellings are listed (CI runs numpy 1 and 2).
_GLOBALS = frozenset(
    {
        # Values: builtins.object for plain sentinels, slice/range in tick and marker
        # state; complex, set, frozenset and bytearray are plain data an older protocol
        # (or a user's artist attribute) spells by name.
        ("builtins", "object"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("collections", "OrderedDict"),  # matplotlib's ordered registries
        ("functools", "partial"),  # stored callbacks (e.g. colorbar removal)
        ("itertools", "count"),  # CallbackRegistry's id counter
        # Date axes: datetime data, the UTC timezone of date converters and locators.
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("zoneinfo", "ZoneInfo"),
        ("dateutil.tz._tzfile", "_unpickle"),
        # numpy arrays, masked arrays and scalars.
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy.ma", "MaskedArray"),
        ("numpy.ma.core", "MaskedArray"),
        ("numpy.ma.core", "MaskedConstant"),
        ("numpy.ma.core", "_mareconstruct"),
        # 3D collections keep the numpy function they depth-sort with.
        ("numpy", "average"),
        ("numpy", "min"),
        ("numpy", "max"),
        ("numpy", "amin"),
        ("numpy", "amax"),
        # Functions matplotlib itself stores on figures (callbacks, formatters).
        ("matplotlib.artist", "_stale_axes_callback"),
        ("matplotlib.axis", "Axis._format_with_dict"),
        ("matplotlib.backend_bases", "_key_handler"),
        ("matplotlib.backend_bases", "_mouse_handler"),
        ("matplotlib.cbook", "_exception_printer"),
        ("matplotlib.cbook", "_picklable_class_constructor"),  # 3D and axes_grid1 axes classes
        ("matplotlib.colors", "_create_empty_object_of_class"),  # LogNorm and other scale norms
        ("matplotlib.colorbar", "_remove_cbar_axes"),
        # This backend's callback exception handler (pickles as an empty instance).
        ("nbagg.canvas", "_CallbackErrorReporter"),
    }
)

# numpy ufuncs may be named from any module of these (see _check).
_UFUNC_PACKAGES = ("numpy", "matplotlib", "mpl_toolkits")

# Builtin containers whose bound methods a figure stores (e.g. ``list.remove``).
_CONTAINERS = (list, dict, set)

# The one class attribute a figure reaches through getattr: zoneinfo time zones pickle
# as ``getattr(ZoneInfo, "_unpickle")(key, from_cache)``.
_CLASS_METHODS = frozenset({("zoneinfo", "ZoneInfo", "_unpickle")})


def _refuse(module: str, name: str, why: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(f"refused to load {module}.{name} from a stored figure: {why}")


def _module_allowed(module: object) -> bool:
    """Whether classes (and their methods) from this module may be used."""

    def within(packages: tuple[str, ...]) -> bool:
        return any(module == p or module.startswith(p + ".") for p in packages)

    return isinstance(module, str) and within(_CLASS_PACKAGES) and not within(_REFUSED_MODULES)


def _is_ufunc(obj: object) -> bool:
    numpy = sys.modules.get("numpy")  # never imported here
    return numpy is not None and isinstance(obj, numpy.ufunc)


def _lookup(module: str, name: str) -> Any:
    """The object ``module.name`` names, without importing and without attribute hooks."""
    mod = sys.modules.get(module)
    if not isinstance(mod, types.ModuleType):
        raise _refuse(module, name, "its module is not imported in this kernel (a restore never imports)")
    obj: Any = mod
    for i, part in enumerate(name.split(".")):
        if not part.isidentifier() or (part.startswith("__") and part.endswith("__")):
            raise _refuse(module, name, "not a plain name")
        if i > 0 and not isinstance(obj, type):
            raise _refuse(module, name, "a dotted name may only go through classes")
        # vars(), not getattr: no module __getattr__ (numpy's imports submodules lazily),
        # no properties, nothing inherited from elsewhere.
        try:
            obj = vars(obj)[part]
        except (KeyError, TypeError):
            raise _refuse(module, name, "no such name") from None
        if isinstance(obj, staticmethod):  # Axis._format_with_dict
            obj = obj.__func__
    return obj


def _check(module: str, name: str, obj: Any) -> None:
    if isinstance(obj, types.ModuleType):
        raise _refuse(module, name, "it is a module")
    if module.partition(".")[0] in _UFUNC_PACKAGES and "." not in name and _is_ufunc(obj):
        # np.log and friends, as log scales and secondary axes keep them: pure arithmetic.
        # numpy 1 ufuncs have no __module__; pickle names whichever module holds them.
        return
    # Defined where the pickle says: a name re-exported from another module (an ``os``
    # function in a matplotlib module, say) does not pass for a matplotlib one.
    defined_in = getattr(obj, "__module__", None)
    if defined_in != module:
        raise _refuse(module, name, f"it is defined in {defined_in!r}")
    if (module, name) in _GLOBALS:
        return
    if isinstance(obj, type) and obj.__qualname__ == name and _module_allowed(module):
        return
    raise _refuse(module, name, "not on the allow-list of figure classes and functions")


def _bound_method(obj: object, name: str) -> Any:
    """``getattr`` as figure pickles use it: a method of an object this pickle made."""
    cls = type(obj)
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
        raise pickle.UnpicklingError(f"refused to load the attribute {name!r} from a stored figure")
    if isinstance(obj, type) and (obj.__module__, obj.__qualname__, name) in _CLASS_METHODS:
        return getattr(obj, name)
    target = f"{cls.__module__}.{cls.__qualname__}.{name}"
    # Instances only: an attribute of a class or module (``__globals__``, ``os``...) is
    # what an escape would need.
    if isinstance(obj, (type, types.ModuleType)) or not (_module_allowed(cls.__module__) or cls in _CONTAINERS):
        raise pickle.UnpicklingError(f"refused to load {target} from a stored figure: not a figure object's method")
    try:
        static = inspect.getattr_static(cls, name)  # runs no property or __getattr__
    except AttributeError:
        raise pickle.UnpicklingError(f"refused to load {target} from a stored figure: no such method") from None
    plain = isinstance(static, types.FunctionType) and _module_allowed(static.__module__)
    builtin = isinstance(static, types.MethodDescriptorType) and static.__objclass__ in _CONTAINERS
    if not (plain or builtin):
        raise pickle.UnpicklingError(f"refused to load {target} from a stored figure: not a plain method")
    method = getattr(obj, name)
    # The class's own function bound to obj, not something the pickle put in obj's __dict__.
    if getattr(method, "__self__", None) is not obj or (plain and getattr(method, "__func__", None) is not static):
        raise pickle.UnpicklingError(f"refused to load {target} from a stored figure: not the class's method")
    return method


class FigureUnpickler(pickle.Unpickler):
    """Rebuilds a pickled Figure from already-imported, allow-listed names only."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _bound_method  # bound methods pickle as getattr(obj, name)
        obj = _lookup(module, name)
        _check(module, name, obj)
        return obj


def loads(data: bytes) -> Any:
    """Unpickle a stored figure state; ``pickle.UnpicklingError`` names a refused global."""
    return FigureUnpickler(io.BytesIO(data)).load()
