"""Download file names come from figure titles (kernel text): only safe characters survive."""

import pytest

from nbagg.manager import _safe_filename


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Figure 1", "Figure_1"),
        ("../../etc/passwd", "etc_passwd"),
        ("<img src=x onerror=alert(1)>", "img_src_x_onerror_alert_1"),
        ("", "figure"),
        (None, "figure"),
        ("///", "figure"),
        ("a" * 200, "a" * 64),
        ("naïve plot", "naïve_plot"),
    ],
)
def test_download_names_are_sanitised(title, expected):
    name = _safe_filename(title)
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith(".")
