"""Render LiteLLM's config.yaml from everything the node serves.

Deployments come from the ready vLLM servers, remote nodes, Ollama models and the cloud models
listed in settings. Deployments sharing a public name are load-balanced by LiteLLM's router.
Secrets never appear in the file: the master key and every provider key are
``os.environ/NAME`` references, resolved in the proxy's environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from naptha_tui.backends.settings import ProxySettings
from naptha_tui.proxy.litellm.auth import MASTER_KEY_ENV

__all__ = ["AUTH_MODULE", "HOOKS_MODULE", "MASTER_KEY_ENV", "Deployment", "render_config"]

HOOKS_MODULE = "naptha_routes"
"""The callback module copied beside the rendered config (see ``proxy/litellm/hooks.py``)."""
AUTH_MODULE = "naptha_auth"
"""The auth hook and backend-key loader copied beside the config (``proxy/litellm/auth.py``)."""


@dataclass(frozen=True)
class Deployment:
    """One backend the proxy routes to."""

    id: str
    """The deployment id LiteLLM reports (``x-litellm-model-id``): the server's name."""
    model_name: str
    """The public name agents ask for; deployments sharing it are load-balanced."""
    api_base: str | None
    model: str | None = None
    """LiteLLM's ``provider/model``; ``openai/<model_name>`` (an OpenAI-compatible server)."""
    api_key_env: str | None = None
    """Environment variable holding the backend's key; None for a keyless local server."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Default request parameters (e.g. ``temperature: 0``); a request's own values win."""

    def litellm_params(self) -> dict[str, Any]:
        """This deployment's ``litellm_params`` block."""
        out: dict[str, Any] = {"model": self.model or f"openai/{self.model_name}"}
        if self.api_base is not None:
            out["api_base"] = self.api_base
        if self.api_key_env is not None:
            out["api_key"] = f"os.environ/{self.api_key_env}"
        elif out["model"].startswith(("openai/", "hosted_vllm/")):
            out["api_key"] = "none"  # a vLLM started without --api-key accepts any
        out.update(self.params)
        return out


def ollama_deployment(name: str, api_base: str = "http://127.0.0.1:11434") -> Deployment:
    """An Ollama model through LiteLLM's ``ollama_chat`` provider (tool calls survive it)."""
    return Deployment(f"ollama/{name}", name, api_base, model=f"ollama_chat/{name}")


def cloud_deployments(settings: ProxySettings) -> list[Deployment]:
    """The hosted models listed in settings."""
    return [
        Deployment(
            f"cloud/{c.model}", c.model_name, c.api_base, model=c.model, api_key_env=c.api_key_env
        )
        for c in settings.cloud
    ]


def render_config(
    deployments: Sequence[Deployment],
    settings: ProxySettings | None = None,
    hooks: bool = False,
) -> dict[str, Any]:
    """LiteLLM's config as a dict (``dump_config`` writes it).

    Args:
        deployments: every backend, local and remote; settings' cloud models are added here.
        settings: routing, retries, cooldown and limits (defaults when None).
        hooks: load naptha's modules copied beside the config: the callback (routing feed,
            stream shape) and the auth hook (401 for a wrong or missing key).
    """
    settings = settings or ProxySettings()
    everything = [*deployments, *cloud_deployments(settings)]
    model_list = [
        {
            "model_name": d.model_name,
            "litellm_params": d.litellm_params(),
            "model_info": {"id": d.id},
        }
        for d in sorted(everything, key=lambda d: (d.model_name, d.id))
    ]
    litellm_settings: dict[str, Any] = {
        "request_timeout": settings.timeout,
        # the panel's probes and the feed replace LiteLLM's own per-request logging
        "turn_off_message_logging": True,
    }
    if hooks:
        litellm_settings["callbacks"] = [f"{HOOKS_MODULE}.handler"]
    # LiteLLM refuses to start without a master key; with custom_auth it checks none itself
    general: dict[str, Any] = {"master_key": f"os.environ/{MASTER_KEY_ENV}"}
    if hooks:
        general["custom_auth"] = f"{AUTH_MODULE}.user_api_key_auth"
    if settings.max_parallel_requests is not None:
        general["global_max_parallel_requests"] = settings.max_parallel_requests
    return {
        "model_list": model_list,
        "router_settings": {
            "routing_strategy": settings.routing_strategy,
            "num_retries": settings.num_retries,
            "allowed_fails": settings.allowed_fails,
            "cooldown_time": settings.cooldown_time,
            "timeout": settings.timeout,
        },
        "litellm_settings": litellm_settings,
        "general_settings": general,
    }


def dump_config(config: dict[str, Any]) -> str:
    """The YAML text of a rendered config."""
    header = "# generated by naptha-tui from the running servers; edits are overwritten\n"
    return header + yaml.safe_dump(config, sort_keys=False)
