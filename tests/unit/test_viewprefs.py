"""The panel's view settings (issue 20 item 4: the log screen's wrap is remembered)."""

from __future__ import annotations

import stat

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.viewprefs import LOG_WRAP, ViewPrefs


def test_a_setting_is_kept_in_a_private_file_and_a_bad_file_is_the_defaults(paths: Paths) -> None:
    prefs = ViewPrefs(paths)
    assert prefs.flag(LOG_WRAP) is False and prefs.flag(LOG_WRAP, default=True) is True
    prefs.set(LOG_WRAP, True)
    prefs.set("other", False)
    assert ViewPrefs(paths).flag(LOG_WRAP) is True and ViewPrefs(paths).load() == {
        "log_wrap": True,
        "other": False,
    }
    assert stat.S_IMODE(prefs.file.stat().st_mode) == 0o600
    prefs.file.write_text("not json")
    assert prefs.flag(LOG_WRAP) is False
    prefs.file.write_text('{"log_wrap": "yes"}')
    assert prefs.flag(LOG_WRAP, default=True) is True
