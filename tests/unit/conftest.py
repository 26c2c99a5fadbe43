"""Fixtures of the Ollama tests (test_ollama_*.py), which ask for them by name.

``no_ollama_env`` is applied to every test of those modules (their ``pytestmark``), so neither
the developer's ``OLLAMA_HOST`` nor an API key reaches the client; ``fake`` is the fake daemon
(tests/fakes/fake_ollama.py) answering in-process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fake_ollama import FakeOllama


@pytest.fixture
def no_ollama_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OLLAMA_HOST", "OLLAMA_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as f:
        yield f
