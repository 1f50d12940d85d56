"""The restricted unpickler: typical figures round-trip; nothing else is imported or reached."""

import datetime
import io
import pickle
import re
import subprocess  # noqa: F401  (imported, so refusing it is the allow-list's doing)
import sys
import zoneinfo

import matplotlib
import numpy as np
import pytest

matplotlib.use("agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.patheffects as patheffects  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mpl_toolkits.axes_grid1 import make_axes_locatable  # noqa: E402

from nbagg import unpickle  # noqa: E402
from nbagg.canvas import FigureCanvasNbagg  # noqa: E402

X = np.linspace(0.0, 10.0, 40)
RNG = np.random.default_rng(0)


# The corpus: figures as notebooks make them


def line():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot(X, np.sin(X), "r--", label="sin")
    ax.plot(X, np.cos(X), marker="o", label="cos")
    ax.legend(title="curves", shadow=True)
    return fig


def bar():
    fig = Figure()
    ax = fig.add_subplot()
    bars = ax.bar(["a", "b", "c"], [3, 1, 2], hatch="//")
    ax.bar_label(bars)
    ax.barh([1, 2], [4, 5])
    return fig


def scatter():
    fig = Figure()
    ax = fig.add_subplot()
    ax.scatter(X, X**2, c=X, s=X + 1, cmap="viridis", marker="*")
    return fig


def imshow_colorbar():
    fig = Figure()
    ax = fig.add_subplot()
    fig.colorbar(ax.imshow(RNG.random((6, 7)), cmap="magma"), extend="both")
    return fig


def contourf():
    fig = Figure()
    ax = fig.add_subplot()
    xx, yy = np.meshgrid(X, X)
    fig.colorbar(ax.contourf(xx, yy, np.sin(xx) * yy, levels=8))
    ax.clabel(ax.contour(xx, yy, xx * yy, colors="k"))
    return fig


def pcolormesh_norms():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    fig.colorbar(ax1.pcolormesh(RNG.random((5, 6)) + 0.1, norm=mcolors.LogNorm()), ax=ax1)
    ax2.pcolormesh(RNG.random((5, 6)), norm=mcolors.TwoSlopeNorm(0.5))
    return fig


def hist():
    fig = Figure()
    ax = fig.add_subplot()
    ax.hist(RNG.standard_normal(200), bins=15, histtype="stepfilled", alpha=0.5)
    return fig


def subplots_shared():
    fig = Figure(layout="constrained")
    axs = fig.subplots(2, 2, sharex=True, sharey="row")
    for i, ax in enumerate(axs.flat):
        ax.plot(X, X * i)
        ax.set_title(f"panel {i}")
    fig.suptitle("grid")
    return fig


def twin_axes():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot(X, X)
    ax.twinx().plot(X, -X, "g")
    ax.secondary_xaxis("top", functions=(np.deg2rad, np.rad2deg))
    return fig


def polar():
    fig = Figure()
    ax = fig.add_subplot(projection="polar")
    ax.plot(X, X)
    ax.bar(X[:8], X[:8], width=0.3)
    ax.set_rlim(0, 12)
    return fig


def three_d():
    fig = Figure()
    ax = fig.add_subplot(projection="3d")
    xx, yy = np.meshgrid(X[:6], X[:6])
    ax.plot(X, X, X)
    ax.plot_surface(xx, yy, xx * yy, cmap="coolwarm")
    ax.scatter(X, X, X, c=X)
    ax.text(1, 1, 1, "corner")
    return fig


def annotations_and_text():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot(X, np.sin(X))
    ax.annotate("peak", xy=(1.57, 1), xytext=(3, 1.5), arrowprops={"arrowstyle": "->"})
    ax.annotate("box", xy=(5, 0), bbox={"boxstyle": "round", "fc": "w"})
    ax.text(0.5, 0.5, r"$\alpha^2$", transform=ax.transAxes, path_effects=[patheffects.withStroke(linewidth=3)])
    return fig


def dates():
    fig = Figure()
    ax = fig.add_subplot()
    days = [datetime.datetime(2024, 1, d, tzinfo=datetime.timezone.utc) for d in range(1, 20)]
    ax.plot(days, range(19))
    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    fig.autofmt_xdate()
    return fig


def numpy_dates_drawn():
    fig = Figure()
    ax = fig.add_subplot()
    days = np.arange("2024-01", "2025-06", dtype="datetime64[D]")
    ax.plot(days, np.arange(len(days)))
    ax.plot([datetime.date(2024, 3, 1)], [5], "o")
    fig.canvas.draw()  # the locators now hold dateutil rules
    return fig


def zoneinfo_dates():
    fig = Figure()
    ax = fig.add_subplot()
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    ax.plot([datetime.datetime(2024, 1, 1, tzinfo=paris), datetime.datetime(2024, 2, 1, tzinfo=paris)], [1, 2])
    return fig


def log_scales():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    ax1.loglog(X + 1, X + 1)
    ax2.plot(X - 5, X)
    ax2.set_xscale("symlog")
    ax2.set_yscale("log")
    return fig


def fill_between():
    fig = Figure()
    ax = fig.add_subplot()
    ax.fill_between(X, X, 2 * X, alpha=0.3, where=X > 2)
    ax.axhline(1)
    ax.axvspan(2, 3, color="y")
    ax.axline((0, 0), slope=1)
    return fig


def errorbar():
    fig = Figure()
    ax = fig.add_subplot()
    ax.errorbar(X, X, yerr=0.1 * X, xerr=0.2, fmt="o", capsize=2)
    return fig


def pie():
    fig = Figure()
    ax = fig.add_subplot()
    ax.pie([1, 2, 3], labels=["a", "b", "c"], autopct="%1.1f%%", explode=[0, 0.1, 0])
    return fig


def drawn():
    fig = line()
    fig.canvas.draw()
    return fig


def statistics():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    ax1.boxplot([X, X * 2])
    ax2.violinplot([X, X * 2])
    return fig


def fields():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    xx, yy = np.meshgrid(X[:6], X[:6])
    ax1.quiver(xx, yy, yy, xx)
    ax2.streamplot(xx, yy, np.ones_like(xx), yy)
    return fig


def categorical_masked_ticks():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(["mon", "tue", "wed"], [1, 3, 2])
    ax2.plot(X, np.ma.masked_where(X > 5, X))
    ax2.xaxis.set_major_formatter("{x:.1f} s")
    ax2.xaxis.set_minor_locator(mticker.AutoMinorLocator())
    ax2.set_yticks([0, 5], ["low", "high"])
    return fig


def axes_grid_colorbar():
    fig = Figure()
    ax = fig.add_subplot()
    image = ax.imshow(np.eye(4))
    fig.colorbar(image, cax=make_axes_locatable(ax).append_axes("right", size="5%", pad=0.05))
    return fig


def subfigures_and_mosaic():
    fig = Figure(layout="constrained")
    left, right = fig.subfigures(1, 2)
    left.subplots(2)
    axd = right.subplot_mosaic("AB;CC")
    axd["A"].stackplot(X, X, X)
    axd["B"].step(X, X)
    axd["C"].hexbin(X, X, gridsize=5)
    return fig


CORPUS = [
    line,
    bar,
    scatter,
    imshow_colorbar,
    contourf,
    pcolormesh_norms,
    hist,
    subplots_shared,
    twin_axes,
    polar,
    three_d,
    annotations_and_text,
    dates,
    numpy_dates_drawn,
    zoneinfo_dates,
    log_scales,
    fill_between,
    errorbar,
    pie,
    drawn,
    statistics,
    fields,
    categorical_masked_ticks,
    axes_grid_colorbar,
    subfigures_and_mosaic,
]


def _array(values) -> str:
    return repr(np.ma.asarray(values).tolist())  # masked entries become None, NaN stays 'nan'


def fingerprint(fig) -> list:
    """What a restored figure must have kept: axes, their limits and scales, the data."""
    out: list = [len(fig.axes), tuple(fig.get_size_inches())]
    for ax in fig.axes:
        out.append((type(ax).__name__, ax.get_title(), ax.get_xscale(), ax.get_yscale()))
        out.append(_array(np.concatenate([ax.get_xlim(), ax.get_ylim()])))
        out.extend(("line", _array(line.get_xydata())) for line in ax.lines)
        for coll in ax.collections:
            values = coll.get_array()
            out.append((type(coll).__name__, _array(coll.get_offsets()), None if values is None else _array(values)))
        out.extend(("image", _array(image.get_array())) for image in ax.images)
        out.extend((type(p).__name__, _array(np.round(p.get_verts(), 6))) for p in ax.patches)
        out.extend(("text", text.get_text()) for text in ax.texts)
    return out


@pytest.mark.parametrize("canvas", ["figure", "nbagg"])
@pytest.mark.parametrize("make", CORPUS, ids=lambda make: make.__name__)
def test_typical_figures_round_trip(make, canvas):
    fig = make()
    if canvas == "nbagg":
        FigureCanvasNbagg(fig)  # what this backend's figures pickle with
    restored = unpickle.loads(pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(restored, Figure)
    assert fingerprint(restored) == fingerprint(fig)
    restored.savefig(io.BytesIO(), format="png")  # and it still draws


def test_a_pyplot_figure_round_trips():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    try:
        restored = unpickle.loads(pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL))
        assert list(restored.axes[0].lines[0].get_ydata()) == [3, 1, 2]
    finally:
        plt.close("all")


def test_plain_values_and_numpy_data_round_trip():
    value = {
        "set": {1, 2},
        "frozen": frozenset({3}),
        "complex": 1 + 2j,
        "bytes": bytearray(b"ab"),
        "slice": slice(1, 5, 2),
        "range": range(3),
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "masked": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
        "scalar": np.float64(2.5),
        "datetime64": np.datetime64("2024-01-01"),
        "ufunc": np.sqrt,
    }
    for protocol in range(3, pickle.HIGHEST_PROTOCOL + 1):  # 2 and older spell Python 2 names
        restored = unpickle.loads(pickle.dumps(value, protocol=protocol))
        assert restored["set"] == {1, 2} and restored["complex"] == 1 + 2j and restored["ufunc"] is np.sqrt
        np.testing.assert_array_equal(restored["array"], value["array"])
        assert restored["masked"].mask.tolist() == [False, True, False]


# Crafted payloads


def global_ref(module: str, name: str) -> bytes:
    """A pickle that only names a global (GLOBAL opcode: find_class runs on it)."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."


def stack_global_call(module: str, name: str, *args) -> bytes:
    """A protocol 4 pickle that calls ``module.name(*args)`` (STACK_GLOBAL, then REDUCE)."""
    m, n = module.encode(), name.encode()
    body = pickle.dumps(args, protocol=4)[2:-1]  # the argument tuple's opcodes
    return b"\x80\x04\x8c" + bytes([len(m)]) + m + b"\x8c" + bytes([len(n)]) + n + b"\x93" + body + b"R."


def assert_refused(payload: bytes, named: str) -> None:
    with pytest.raises(pickle.UnpicklingError, match=re.escape(named)):
        unpickle.loads(payload)


@pytest.fixture
def notebook_folder(tmp_path, monkeypatch):
    """A folder on sys.path holding plothelpers.py, which leaves a marker when imported."""
    marker = tmp_path / "imported"
    (tmp_path / "plothelpers.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\ndef boom():\n    open({str(marker)!r}, 'w').write('called')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "plothelpers", raising=False)
    yield marker
    sys.modules.pop("plothelpers", None)


def test_a_module_in_the_notebook_folder_is_never_imported(notebook_folder):
    for payload in (global_ref("plothelpers", "boom"), stack_global_call("plothelpers", "boom")):
        assert_refused(payload, "plothelpers.boom")
    assert not notebook_folder.exists()
    assert "plothelpers" not in sys.modules
    # A plain unpickler would have run it: the refusal is what stops it.
    pickle.loads(stack_global_call("plothelpers", "boom"))
    assert notebook_folder.read_text() == "called"


def test_a_figure_using_a_notebook_helper_is_refused_even_once_imported(notebook_folder, tmp_path):
    (tmp_path / "plothelpers.py").write_text(
        "import matplotlib.ticker\nclass Euros(matplotlib.ticker.Formatter):\n"
        "    def __call__(self, x, pos=None):\n        return f'{x} EUR'\n"
    )
    import plothelpers  # noqa: F401  (the notebook imported it to make the figure)

    fig = line()
    fig.axes[0].yaxis.set_major_formatter(sys.modules["plothelpers"].Euros())
    assert_refused(pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL), "plothelpers.Euros")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("subprocess", "Popen"),
        ("subprocess", "run"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "compile"),
        ("builtins", "open"),
        ("builtins", "__import__"),
        ("builtins", "setattr"),
        ("builtins", "type"),
        ("builtins", "print"),
        ("pickle", "loads"),
        ("io", "open"),
        ("copyreg", "_reconstructor"),
        ("functools", "reduce"),
        # Functions of allowed packages that run programs or load full pickles.
        ("numpy", "load"),
        ("numpy", "fromfile"),
        ("numpy", "memmap"),
        ("numpy.lib.format", "read_array"),
        ("matplotlib", "rc"),
        ("matplotlib", "rcParams"),
        ("matplotlib.cbook", "_check_and_log_subprocess"),
        ("matplotlib.figure", "figaspect"),
        ("matplotlib.image", "imsave"),
        ("nbagg.canvas", "FigureCanvasNbagg"),
        # Modules themselves, and names other modules lent to an allowed one.
        ("matplotlib", "cbook"),
        ("matplotlib.cbook", "os"),
        ("matplotlib.cbook", "subprocess"),
        ("matplotlib.cbook", "Path"),
        ("matplotlib", "namedtuple"),
        ("matplotlib.pyplot", "Figure"),
        # Dotted names that walk through attributes.
        ("matplotlib.cbook", "os.system"),
        ("matplotlib.cbook", "subprocess.Popen"),
        ("matplotlib", "cbook.os.system"),
        ("numpy", "testing.assert_equal"),
        ("numpy", "lib.format.read_array"),
        ("matplotlib.figure", "Figure.savefig"),
        ("matplotlib.figure", "Figure.__init__.__globals__"),
        ("matplotlib.figure", "Figure.__reduce_ex__"),
        ("matplotlib.cbook", "_exception_printer.__globals__"),
        ("matplotlib.patches", "ArrowStyle.__subclasses__"),
        ("builtins", "object.__subclasses__"),
    ],
)
def test_dangerous_globals_are_refused(module, name):
    for payload in (global_ref(module, name), stack_global_call(module, name, "echo pwned")):
        assert_refused(payload, f"{module}.{name}")


def test_refused_modules_of_allowed_packages(monkeypatch):
    import matplotlib.animation
    import matplotlib.testing  # noqa: F401

    assert_refused(global_ref("matplotlib.testing", "subprocess_run_for_testing"), "subprocess_run_for_testing")
    assert_refused(global_ref("matplotlib.animation", "FFMpegWriter"), "matplotlib.animation.FFMpegWriter")


def test_modules_not_yet_imported_are_refused_and_stay_unimported():
    candidates = [("this", "s"), ("antigravity", "geohash"), ("matplotlib.sankey", "Sankey"), ("tabnanny", "check")]
    unimported = [(module, name) for module, name in candidates if module not in sys.modules]
    assert unimported, "every candidate module is imported already: add one that is not"
    for module, name in unimported:
        assert_refused(global_ref(module, name), "is not imported")
        assert module not in sys.modules
    if "numpy.testing" not in sys.modules:  # numpy's lazy __getattr__ would import it
        assert_refused(global_ref("numpy", "testing"), "numpy.testing")
        assert "numpy.testing" not in sys.modules


def test_getattr_gives_only_methods_of_figure_objects():
    from matplotlib.ticker import NullLocator

    cases = [
        (([], "__class__"), "__class__"),
        ((NullLocator(), "__init__"), "__init__"),
        ((NullLocator, "tick_values"), "tick_values"),  # a class, not an instance
        ((np.zeros(2), "tofile"), "numpy.ndarray.tofile"),  # numpy objects are data only
        (("text", "format"), "builtins.str.format"),
        ((NullLocator(), "axis"), "axis"),  # an attribute, not a method
    ]
    for (obj, attr), named in cases:
        assert_refused(_getattr_payload(obj, attr), named)


def _getattr_payload(obj, attr: str) -> bytes:
    """A pickle of ``getattr(obj, attr)``: how a bound method pickles."""
    body = pickle.dumps((obj, attr), protocol=4)[2:-1]
    return b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93" + body + b"R."


def test_a_method_shadowed_in_the_instance_dict_is_refused():
    from matplotlib.ticker import NullLocator

    locator = NullLocator()
    method = locator.set_axis  # pickles as getattr(locator, "set_axis")
    locator.__dict__["set_axis"] = mcolors.Normalize  # a rebuilt object could carry anything here
    assert_refused(pickle.dumps((locator, method), protocol=4), "set_axis")


def test_figure_methods_and_list_methods_are_allowed():
    from matplotlib.ticker import NullLocator

    locator = NullLocator()
    items = [1, 2]
    restored_locator, method, remove = unpickle.loads(pickle.dumps((locator, locator.set_axis, items.remove)))
    assert method.__self__ is restored_locator and method.__func__ is NullLocator.set_axis
    assert remove.__name__ == "remove"


def test_persistent_ids_are_refused():
    with pytest.raises(pickle.UnpicklingError):
        unpickle.loads(b"\x80\x02Pnothing\n.")
