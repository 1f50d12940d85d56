"""Long sessions: creating, showing and closing many figures leaves nothing behind."""

from kernel_harness import figure_ids

CYCLES = 100


def test_many_figures_with_views_leave_no_managers_comms_or_memory(fresh_kernel):
    k = fresh_kernel
    k.execute(
        "%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt, gc, resource\n"
        "import nbagg.manager\nfrom comm import get_comm_manager\n"
        "def rss_mb():\n    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20"
    )

    def cycle(n):
        for _ in range(n):
            outputs = k.execute("fig, ax = plt.subplots(figsize=(3, 2), dpi=100); ax.plot([1, 3, 2]);")
            view = k.open_view(figure_ids(outputs)[0])
            view.recv_frame()
            view.send({"type": "close"})
            view.recv(type="comm_close")
        k.execute("gc.collect()")
        k._pending.clear()

    cycle(20)  # warm up caches (fonts, tick formatters)
    start = k.eval("rss_mb()")
    cycle(CYCLES)
    end = k.eval("rss_mb()")
    assert k.eval("len(nbagg.manager.managers)") == 0
    assert k.eval("len(plt.get_fignums())") == 0
    assert k.eval("len(get_comm_manager().comms)") == 0
    print(f"\n{CYCLES} figures shown and closed: RSS {start:.1f} MB -> {end:.1f} MB")
    assert end - start < 25, f"kernel memory grew by {end - start:.1f} MB over {CYCLES} figures"
