"""A person's run of the panel, in tmux (160x48), on the package's real node.

Keys go in with ``send-keys`` and the screen is read with ``capture-pane``, as an operator sees
it: the server reads ``ready`` (never ``ConnectError``); ``:try`` opens the playground, a saved
choice session loads (ctrl+o) and runs (ctrl+r), and the answer is read off the screen;
``:logs NAME`` opens the server's log, ``/`` searches it and the match is drawn highlighted;
``:history`` lists what the node ran and shows the ``vllm`` command line; ``w`` swaps the
server for a second preset of the embedded model and its steps are read off the activity log
(stopped, memory returned, the plan, the proxy reloaded, the new model answering); ``q`` quits
with status 0, the servers keep running, and a second panel re-attaches to the same processes.

The node is the package's (already up), so this costs the panel's own seconds and one quick
start (the swapped-in preset runs vLLM's worker in its engine process): about 60 s. It runs
last in the package, before ``down`` (``conftest.LAST``): the swap replaces ``SERVER``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.common import TmuxPanel, run_cli, status
from tests.integration.embedded.conftest import MODEL, SERVER, SWAP_TO

pytestmark = pytest.mark.integration

SESSION = "tmux-choice"
HIGHLIGHTED = r"\x1b\[1m(?:\x1b\[[\d;]*m)*startup complete"
"""The search's match as drawn: bold (over the match's background) from its first letter."""


def persons_run(env: dict[str, str], where: Path, server: str, model: str, swap_to: str) -> None:
    done = run_cli(
        env,
        "try", "--model", model, "--prompt", "Is Paris in France? Answer yes or no.",
        "--mode", "choice", "--choice", "yes,no", "--max-tokens", "4", "--save", SESSION,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = run_cli(env, "try", "--list-sessions", "--json", timeout=60)
    sessions = json.loads(listed.stdout)
    before = {s["name"]: s["pid"] for s in status(env)["servers"]}

    panel = TmuxPanel(env, where, "--up", server)  # as launched to start it: already up
    try:
        panel.wait_for(rf"│ {server}\s.*\sready\s")

        # the playground from the command bar; the saved session loaded, then run
        panel.keys(":", "try", "Enter")
        panel.wait_for(r"naptha-tui — playground")
        panel.keys("C-o")
        panel.wait_for(r"Load playground session")
        panel.keys(*["Down"] * sessions.index(SESSION), "Enter")
        panel.wait_for(r"prompt\s+Is Paris in France\?")
        panel.keys("C-r")
        panel.wait_for(r"done: 1 samples", timeout=120)
        answer = panel.wait_for(r'content "(yes|no)"')
        assert answer.group(1) in ("yes", "no")
        assert "VALID" in panel.screen()

        # the server's log, searched; the match drawn highlighted
        panel.keys("Escape", ":", f"logs {server}", "Enter")
        panel.wait_for(r"following \(f pauses\)")
        panel.keys("/", "startup complete", "Enter")
        panel.wait_for(r"match for 'startup complete' at")
        panel.wait_for(HIGHLIGHTED, styles=True)

        # the command log: the server's vllm command line, as it was run
        panel.keys("Escape", ":", "history", "Enter")
        panel.wait_for(r"Command log")
        for _ in range(40):
            shown = panel.screen()
            if f"--served-model-name {model} " in shown:  # the highlighted start's line
                break
            panel.keys("Down", pause=0.3)
        assert "vllm.entrypoints.openai.api_server --model" in shown, shown
        assert f"--served-model-name {model}" in shown, shown

        # the swap, end to end: the planner's verdict for the highlighted preset, then the
        # steps as they happen, until the new model answers through the proxy
        panel.keys("Escape")
        panel.wait_for(rf"│ {server}\s.*\sready\s")
        panel.keys("w")
        panel.wait_for(rf"Swap {server} for the preset:")
        for _ in range(20):
            shown = panel.screen()
            if f"{swap_to} fits in RAM" in shown:
                break
            panel.keys("Down", pause=0.5)
        assert f"{swap_to} fits in RAM" in shown, shown
        panel.keys("Enter")
        # while it starts, its row reads `starting` with the time it has been loading
        panel.wait_for(rf"│ {swap_to}\s.*\sstarting\s.*\sloading \d+ s", timeout=120)
        panel.wait_for(
            rf"swapped: {server} stopped \(memory returned in [\d.]+ s\), {swap_to} started in",
            timeout=300,
        )
        # each step was on screen at some point (the activity panel shows the last ten at 48 rows)
        for step in (
            f"plan: {swap_to} fits in RAM",
            f"{server}: stopping",
            "proxy: reloaded",
            f"{swap_to}: answered a one-token request through the proxy",
        ):
            assert panel.ever(step), step
        panel.wait_for(rf"│ {swap_to}\s.*\sready\s")
        swapped = {s["name"]: s["pid"] for s in status(env)["servers"]}
        assert server not in swapped and set(swapped) == set(before) - {server} | {swap_to}
        before = swapped

        panel.keys("q")
        code = panel.exit_status()
        assert code == 0, f"exit {code} (minus: the signal that killed it)\n{panel.screen()}"
    finally:
        panel.close()

    # the servers outlive the panel; a second panel re-attaches to the same processes
    after = status(env)
    assert {s["name"]: s["pid"] for s in after["servers"]} == before
    assert all(s["status"] == "ready" for s in after["servers"]), after["servers"]
    again = TmuxPanel(env, where)
    try:
        again.wait_for(rf"│ {swap_to}\s.*\sready\s")
        again.keys("q")
        code = again.exit_status()
        assert code == 0, f"exit {code} (minus: the signal that killed it)\n{again.screen()}"
    finally:
        again.close()
    assert {s["name"]: s["pid"] for s in status(env)["servers"]} == before
    for shown in (panel, again):
        assert not shown.ever("ConnectError"), [s for s in shown.seen if "ConnectError" in s]


def test_a_persons_run_of_the_panel_in_tmux(env: dict[str, str], tmp_path: Path) -> None:
    persons_run(env, tmp_path, SERVER, MODEL, SWAP_TO)
