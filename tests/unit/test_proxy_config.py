"""LiteLLM's config as the panel renders it: load-balanced instances, router settings from
ProxySettings, cloud and remote deployments, and secrets only ever as ``os.environ/NAME``."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from naptha_tui.backends.settings import CloudModel, ProxySettings
from naptha_tui.proxy.litellm.config import (
    Deployment,
    cloud_deployments,
    dump_config,
    ollama_deployment,
    render_config,
)
from naptha_tui.proxy.node.remotes import remote_deployments

TWO_INSTANCES = [
    Deployment("smollm2-cpu-x2-0", "smollm2-135m", "http://127.0.0.1:18100/v1"),
    Deployment("smollm2-cpu-x2-1", "smollm2-135m", "http://127.0.0.1:18101/v1"),
]


def entries(config: dict[str, Any], model_name: str) -> list[dict[str, Any]]:
    return [e for e in config["model_list"] if e["model_name"] == model_name]


def test_two_instances_share_one_model_name() -> None:
    config = render_config(list(reversed(TWO_INSTANCES)))
    assert config["model_list"] == [
        {
            "model_name": "smollm2-135m",
            "litellm_params": {
                "model": "openai/smollm2-135m",
                "api_base": "http://127.0.0.1:18100/v1",
                "api_key": "none",
            },
            "model_info": {"id": "smollm2-cpu-x2-0"},
        },
        {
            "model_name": "smollm2-135m",
            "litellm_params": {
                "model": "openai/smollm2-135m",
                "api_base": "http://127.0.0.1:18101/v1",
                "api_key": "none",
            },
            "model_info": {"id": "smollm2-cpu-x2-1"},
        },
    ]


def test_router_settings_come_from_proxy_settings() -> None:
    settings = ProxySettings(
        routing_strategy="least-busy",
        num_retries=5,
        allowed_fails=3,
        cooldown_time=12.5,
        timeout=42.0,
    )
    config = render_config(TWO_INSTANCES, settings)
    assert config["router_settings"] == {
        "routing_strategy": "least-busy",
        "num_retries": 5,
        "allowed_fails": 3,
        "cooldown_time": 12.5,
        "timeout": 42.0,
    }
    assert config["litellm_settings"]["request_timeout"] == 42.0


def test_default_router_settings() -> None:
    config = render_config(TWO_INSTANCES)
    assert config["router_settings"] == {
        "routing_strategy": "simple-shuffle",
        "num_retries": 3,
        "allowed_fails": 0,
        "cooldown_time": 5.0,
        "timeout": 600.0,
    }
    assert "callbacks" not in config["litellm_settings"]
    assert config["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("routing_strategy", "round-robin"),
        ("num_retries", -1),
        ("timeout", 0),
        ("max_parallel_requests", 0),
    ],
)
def test_invalid_proxy_settings_are_rejected(key: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        ProxySettings.model_validate({key: value})
    assert [e["loc"] for e in info.value.errors()] == [(key,)]


def test_cloud_key_is_an_env_reference_and_never_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-proj-THIS-IS-SECRET-0123456789"
    master = "sk-master-ALSO-SECRET-987"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("LITELLM_MASTER_KEY", master)
    settings = ProxySettings(
        cloud=[
            CloudModel(
                model_name="gpt-4o-mini", model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY"
            )
        ]
    )
    config = render_config(TWO_INSTANCES, settings)
    [cloud] = entries(config, "gpt-4o-mini")
    assert cloud == {
        "model_name": "gpt-4o-mini",
        "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"},
        "model_info": {"id": "cloud/openai/gpt-4o-mini"},
    }
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    text = dump_config(config)
    assert secret not in text and master not in text
    assert "os.environ/OPENAI_API_KEY" in text and "os.environ/LITELLM_MASTER_KEY" in text


def test_cloud_model_can_spill_over_under_a_local_name() -> None:
    settings = ProxySettings(
        cloud=[
            CloudModel(
                model_name="smollm2-135m",
                model="openai/gpt-4o-mini",
                api_key_env="OPENAI_API_KEY",
                api_base="https://api.example.com/v1",
            )
        ]
    )
    [cloud] = cloud_deployments(settings)
    assert cloud == Deployment(
        "cloud/openai/gpt-4o-mini",
        "smollm2-135m",
        "https://api.example.com/v1",
        model="openai/gpt-4o-mini",
        api_key_env="OPENAI_API_KEY",
    )
    group = entries(render_config(TWO_INSTANCES, settings), "smollm2-135m")
    assert [e["model_info"]["id"] for e in group] == [
        "cloud/openai/gpt-4o-mini",
        "smollm2-cpu-x2-0",
        "smollm2-cpu-x2-1",
    ]
    assert group[0]["litellm_params"]["api_key"] == "os.environ/OPENAI_API_KEY"
    assert group[0]["litellm_params"]["api_base"] == "https://api.example.com/v1"


@pytest.mark.parametrize("bad", ["sk-abc def", "sk-abc", "1PASSWORD", "OPENAI API KEY", ""])
def test_api_key_env_must_be_a_variable_name(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        CloudModel(model_name="m", model="openai/m", api_key_env=bad)
    assert [e["loc"] for e in info.value.errors()] == [("api_key_env",)]
    with pytest.raises(ValidationError) as info:
        ProxySettings.model_validate(
            {"cloud": [{"model_name": "m", "model": "openai/m", "api_key_env": bad}]}
        )
    assert [e["loc"] for e in info.value.errors()] == [("cloud", 0, "api_key_env")]
    with pytest.raises(ValidationError) as info:
        ProxySettings.model_validate({"master_key_env": bad})
    assert [e["loc"] for e in info.value.errors()] == [("master_key_env",)]


@pytest.mark.parametrize(
    "api_base",
    [
        "https://10.0.0.7:4000/v1/",
        "http://gateway.lan:8080/nodes/gpu-box/v1",
        "http://[fd00::7]:4000/v1",
    ],
)
def test_remote_api_base_is_kept_exactly(api_base: str) -> None:
    config = render_config([Deployment("gpu-box", "qwen2.5-7b", api_base)])
    [entry] = config["model_list"]
    assert entry["litellm_params"]["api_base"] == api_base
    assert yaml.safe_load(dump_config(config))["model_list"][0]["litellm_params"]["api_base"] == (
        api_base
    )


def test_default_params_land_in_litellm_params() -> None:
    d = Deployment("qwen-0", "qwen", "http://127.0.0.1:18100/v1", params={"temperature": 0})
    [entry] = render_config([d])["model_list"]
    assert entry["litellm_params"] == {
        "model": "openai/qwen",
        "api_base": "http://127.0.0.1:18100/v1",
        "api_key": "none",
        "temperature": 0,
    }


def test_ollama_deployment_has_no_dummy_key() -> None:
    d = ollama_deployment("llama3.2")
    assert (d.id, d.model_name, d.api_base, d.model) == (
        "ollama/llama3.2",
        "llama3.2",
        "http://127.0.0.1:11434",
        "ollama_chat/llama3.2",
    )
    assert d.litellm_params() == {
        "model": "ollama_chat/llama3.2",
        "api_base": "http://127.0.0.1:11434",
    }
    other = ollama_deployment("qwen3", "http://10.0.0.9:11434")
    assert other.litellm_params()["api_base"] == "http://10.0.0.9:11434"


def test_hosted_vllm_provider_also_gets_the_dummy_key() -> None:
    d = Deployment("x", "x", "http://h/v1", model="hosted_vllm/x")
    assert d.litellm_params()["api_key"] == "none"
    keyed = Deployment("y", "y", "http://h/v1", api_key_env="NODE_KEY")
    assert keyed.litellm_params()["api_key"] == "os.environ/NODE_KEY"


def test_hooks_and_parallel_limit() -> None:
    config = render_config(TWO_INSTANCES, ProxySettings(max_parallel_requests=8), hooks=True)
    assert config["litellm_settings"] == {
        "request_timeout": 600.0,
        "turn_off_message_logging": True,
        "callbacks": ["naptha_routes.handler"],
    }
    assert config["general_settings"] == {
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "custom_auth": "naptha_auth.user_api_key_auth",
        "global_max_parallel_requests": 8,
    }


def test_dump_config_round_trips() -> None:
    settings = ProxySettings(
        routing_strategy="latency-based-routing",
        max_parallel_requests=4,
        cloud=[CloudModel(model_name="gpt", model="openai/gpt-4o", api_key_env="OPENAI_API_KEY")],
    )
    config = render_config(
        [
            *TWO_INSTANCES,
            Deployment("gpu-box", "qwen", "https://10.0.0.7:4000/v1/", params={"temperature": 0}),
            ollama_deployment("llama3.2"),
        ],
        settings,
        hooks=True,
    )
    text = dump_config(config)
    assert text.startswith("# generated by naptha-tui")
    assert yaml.safe_load(text) == config
    # the key order LiteLLM's readers see is the rendered one
    assert list(yaml.safe_load(text)) == [
        "model_list",
        "router_settings",
        "litellm_settings",
        "general_settings",
    ]


def test_remote_deployments_one_model_is_named_after_the_preset() -> None:
    [d] = remote_deployments(
        "gpu-box", ["qwen"], "https://10.0.0.7:4000/v1/", "GPU_BOX_KEY", {"temperature": 0}
    )
    assert d == Deployment(
        "gpu-box",
        "qwen",
        "https://10.0.0.7:4000/v1/",
        api_key_env="GPU_BOX_KEY",
        params={"temperature": 0},
    )
    assert d.litellm_params() == {
        "model": "openai/qwen",
        "api_base": "https://10.0.0.7:4000/v1/",
        "api_key": "os.environ/GPU_BOX_KEY",
        "temperature": 0,
    }


def test_remote_deployments_several_models() -> None:
    found = remote_deployments("gpu-box", ["qwen", "llama"], "http://10.0.0.7:8000/v1", None, {})
    assert [(d.id, d.model_name, d.api_base) for d in found] == [
        ("gpu-box/qwen", "qwen", "http://10.0.0.7:8000/v1"),
        ("gpu-box/llama", "llama", "http://10.0.0.7:8000/v1"),
    ]
    assert all(d.litellm_params()["api_key"] == "none" for d in found)
