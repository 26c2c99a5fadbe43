"""A dead server's record whose pid now leads another live group: stopping what the dead
leader left must not touch that group (pids are recycled; pid_max is 32768 here)."""

from __future__ import annotations

import sys
from pathlib import Path

from naptha_tui.backends.servers import procs


async def test_a_recycled_pid_leading_a_live_group_is_not_a_dead_leaders_leftover(
    tmp_path: Path,
) -> None:
    other = procs.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "o.log", {}, tmp_path
    )
    try:
        # as if our server had had this pid, started earlier, and died: same number, older time
        assert procs.leftovers(other.pid, other.create_time() - 100) == []
        assert other.is_running()
    finally:
        other.kill()
        other.wait(5)
