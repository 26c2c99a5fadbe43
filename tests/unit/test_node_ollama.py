"""The node offers an Ollama daemon's models to the proxy (against the recorded fake daemon)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import yaml

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.proxy.node.remotes import ollama_deployments
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.node import FakeGpu


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as f:
        yield f


def node_for(paths: Paths, host: str, offer: bool = True) -> Node:
    settings = Settings.model_validate({"ollama": {"host": host, "offer_to_proxy": offer}})
    return Node(paths, settings, gpu=FakeGpu())


async def test_the_daemons_models_become_ollama_chat_deployments(
    paths: Paths, fake: FakeOllama
) -> None:
    node = node_for(paths, fake.url)
    try:
        deployments = await ollama_deployments(node.settings.ollama)
        rendered = yaml.safe_load(node.proxy.render(await node.planned_deployments([])))
    finally:
        await node.aclose()
    assert [(d.id, d.model_name, d.api_base) for d in deployments] == [
        ("ollama/deepseek-r1:latest", "deepseek-r1:latest", fake.url),
        ("ollama/llama3.2:latest", "llama3.2:latest", fake.url),
    ]
    models = {m["model_name"]: m["litellm_params"] for m in rendered["model_list"]}
    assert models["llama3.2:latest"]["model"] == "ollama_chat/llama3.2:latest"
    assert models["llama3.2:latest"]["api_base"] == fake.url


async def test_a_daemon_that_is_down_or_not_offered_adds_nothing(
    paths: Paths, fake: FakeOllama
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for node in (node_for(paths, closed), node_for(paths, fake.url, offer=False)):
        try:
            assert await ollama_deployments(node.settings.ollama) == []
        finally:
            await node.aclose()
