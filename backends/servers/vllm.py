"""From a preset to a vLLM command line: model resolution, flags, environment.

Everything here is pure (no process is started), so it is checked before anything runs:
a bad preset fails with nothing half-started.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import atomic_write, same_text
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.runtimes.models import EMBEDDED, hf_dir, is_prepared
from naptha_tui.backends.runtimes.runtime import Runtime
from naptha_tui.backends.servers.keys import key_env
from naptha_tui.backends.servers.managed import Spawn
from naptha_tui.backends.servers.model_shape import PlanProblem, load_shape
from naptha_tui.backends.servers.planner import KV_SPACE_ENV, default_cpu_kv_space_gib
from naptha_tui.backends.servers.ports import is_loopback
from naptha_tui.backends.settings import DEFAULT_STARTUP_TIMEOUT
from naptha_tui.backends.telemetry.cpu import CpuInfo, DtypeChoice, cpu_dtype, this_cpu
from naptha_tui.backends.vllm_options import option_flags

GUARD_MIDDLEWARE = "naptha_vllm_guard.NapthaGuard"
"""vLLM's ``--middleware``: the server's key on every route but the probes (see the module)."""


def guard_dir(paths: Paths) -> Path:
    """Where the guard module is copied for a server's ``PYTHONPATH``.

    A folder of its own: ``servers/`` itself holds a ``vllm.py`` that would shadow vLLM.
    """
    return paths.state_dir / "vllm-guard"


def install_guard(paths: Paths) -> None:
    """Copy the guard module where the servers' ``PYTHONPATH`` finds it."""
    source = importlib.resources.files("naptha_tui.backends.servers").joinpath(
        "naptha_vllm_guard.py"
    )
    target = paths.ensure(guard_dir(paths)) / "naptha_vllm_guard.py"
    text = source.read_text()
    if not same_text(target, text):
        atomic_write(target, text, mode=0o644)


SHIPPED_PLUGIN = "naptha"
"""``tool_parser_plugin: naptha`` names the plugin shipped with naptha-tui (our parsers)."""


def shipped_plugin_path() -> Path:
    """The file vLLM loads for ``--tool-parser-plugin`` to get the ``naptha_*`` parsers."""
    files = importlib.resources.files("naptha_tui.backends.toolcalls")
    return Path(str(files.joinpath("naptha_vllm_plugin.py"))).resolve()


class PresetProblem(NapthaError):
    """A preset that parses but cannot run here; the message names the preset file and key."""

    def __init__(self, preset: Preset, key: str, message: str) -> None:
        where = preset.source or f"preset {preset.name}"
        super().__init__(f"{where}: {key}: {message}")
        self.preset, self.key = preset, key


@dataclass(frozen=True)
class ResolvedModel:
    """What to hand vLLM as ``--model``, and whether it is local (no hub access needed)."""

    arg: str
    local: bool
    default_served_name: str


def _is_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~"))


def resolve_model(preset: Preset, paths: Paths) -> ResolvedModel:
    """A prepared model name, a local folder, or a Hugging Face id.

    Raises:
        PresetProblem: a prepared model that is not prepared yet, or a folder that does not exist.
    """
    model = preset.model
    if model in EMBEDDED:
        if not is_prepared(paths, model):
            raise PresetProblem(
                preset,
                "model",
                f"model {model!r} is not prepared: run `naptha-tui model prepare {model}`",
            )
        return ResolvedModel(str(hf_dir(paths, model)), True, model)
    if _is_path(model):
        base = preset.source.parent if preset.source and model.startswith(".") else Path.cwd()
        path = (base / Path(model).expanduser()).resolve()
        if not path.exists():
            raise PresetProblem(preset, "model", f"model path {path} does not exist")
        return ResolvedModel(str(path), True, preset.name)
    return ResolvedModel(model, False, model)


def _resolve_file(preset: Preset, key: str, value: str, packaged: str | None) -> str:
    """A file named by a preset key: a shipped template by name, or a path."""
    if packaged is not None and "/" not in value:
        shipped = Path(str(importlib.resources.files(packaged).joinpath(value)))
        if shipped.is_file():
            return str(shipped)
    base = preset.source.parent if preset.source else Path.cwd()
    path = (base / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise PresetProblem(preset, key, f"file {value!r} not found (looked for {path})")
    return str(path)


def render_args(preset: Preset, *, host: str, port: int, served_name: str) -> list[str]:
    """The vLLM flags for ``preset`` (without the program and model)."""
    args = ["--host", host, "--port", str(port), "--served-model-name", served_name]
    for _, flag, value in option_flags(preset):
        args += [flag] if value is None else [flag, value]
    if preset.chat_template is not None:
        template = _resolve_file(
            preset, "chat_template", preset.chat_template, "naptha_tui.templates"
        )
        args += ["--chat-template", template]
    if preset.tool_parser_plugin == SHIPPED_PLUGIN:
        args += ["--tool-parser-plugin", str(shipped_plugin_path())]
    elif preset.tool_parser_plugin is not None:
        plugin = _resolve_file(preset, "tool_parser_plugin", preset.tool_parser_plugin, None)
        args += ["--tool-parser-plugin", plugin]
    if preset.sleep_mode:
        args.append("--enable-sleep-mode")
    return [*args, *preset.extra_args]


def dtype_choice(preset: Preset, cpu: CpuInfo | None = None) -> DtypeChoice:
    """The ``--dtype`` a server of ``preset`` gets, and why.

    On the cpu runtime ``auto`` (or no dtype) follows the CPU (:func:`cpu_dtype`); elsewhere the
    preset's value goes to vLLM as it is.
    """
    if preset.on_cpu:
        return cpu_dtype(preset.dtype, cpu or this_cpu())
    if preset.dtype is None:
        return DtypeChoice(None, "vLLM's default (auto: the model's own dtype)")
    return DtypeChoice(preset.dtype, "set in the preset")


@dataclass(frozen=True, kw_only=True)
class LaunchPlan(Spawn):
    """One server instance to start, and what the node says of a vLLM server.

    What any child needs is its ``Spawn``: argv, environment, address, and the startup timeout
    (the preset's, else the settings', resolved here once).
    """

    preset: Preset
    served_model_name: str
    model: str
    api_key_env: str
    """Where the server's key comes from: its generated key file, or the operator's variable."""
    dtype: DtypeChoice
    """The dtype it runs in and why (``auto`` resolved on the cpu runtime)."""

    @property
    def api_url(self) -> str:
        """The OpenAI-compatible base URL it will serve."""
        return f"http://{self.host}:{self.port}/v1"


def check_host(preset: Preset) -> None:
    """Refuse a non-loopback ``host`` unless the preset names a key the operator chose.

    Raises:
        PresetProblem: naming the preset file and the key to set.
    """
    if is_loopback(preset.host):
        return
    env = preset.api_key_env
    if env is None:
        raise PresetProblem(
            preset,
            "host",
            f"{preset.host} is not a loopback address; refusing to start vLLM on it without a "
            "key you chose. Set api_key_env to the name of an environment variable holding it, "
            "or bind 127.0.0.1",
        )
    if not os.environ.get(env):
        raise PresetProblem(
            preset,
            "api_key_env",
            f"environment variable {env} is unset or empty; vLLM will not bind {preset.host} "
            "without it",
        )


def plan_launch(
    preset: Preset,
    runtime: Runtime,
    paths: Paths,
    name: str,
    port: int,
    instance: int = 0,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
) -> LaunchPlan:
    """The argv and environment of instance ``instance`` of ``preset`` on ``port``.

    ``startup_timeout`` is the settings' value, used where the preset sets none.

    Raises:
        PresetProblem: missing model or template.
        RuntimeProblem: the runtime is not installed.
    """
    runtime.require_ready()
    check_host(preset)
    model = resolve_model(preset, paths)
    served = preset.served_model_name or model.default_served_name
    dtype = dtype_choice(preset)
    resolved = preset.model_copy(update={"dtype": dtype.value})
    args = render_args(resolved, host=preset.host, port=port, served_name=served)
    extra = len(preset.extra_args)
    argv = [
        *runtime.serve_argv(model.arg),
        *args[: len(args) - extra],
        "--middleware",
        GUARD_MIDDLEWARE,
        *args[len(args) - extra :],
    ]
    env = dict(os.environ)
    # compiled graphs and kernels are cached here, not in the user's home
    env["VLLM_CACHE_ROOT"] = str(paths.state_dir / "vllm-cache")
    if model.local:
        env["HF_HUB_OFFLINE"] = "1"  # a local folder needs no hub; never wait on one
    env.update({k: v.replace("{instance}", str(instance)) for k, v in preset.env.items()})
    if preset.on_cpu and not env.get(KV_SPACE_ENV):
        # unset, vLLM-CPU reserves gpu_memory_utilization of each NUMA node's RAM
        env[KV_SPACE_ENV] = str(cpu_kv_space_default(preset, model, dtype))
    if preset.on_cpu and preset.instances > 1 and not env.get(THREADS_BIND_ENV):
        # vLLM's `auto` binds every instance to the same cores: give each its own share
        env[THREADS_BIND_ENV] = instance_cores(instance, preset.instances, this_cpu().cpu_ids)
    if not env.get(KEEP_ALIVE_ENV):
        env[KEEP_ALIVE_ENV] = str(SERVER_KEEP_ALIVE_S)
    if preset.sleep_mode:
        env["VLLM_SERVER_DEV_MODE"] = "1"  # /sleep, /wake_up and /is_sleeping are dev routes
    env.pop("VLLM_API_KEY", None)  # set at launch from the key file or the operator's variable
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(guard_dir(paths)), env.get("PYTHONPATH")])
    )
    return LaunchPlan(
        name=name,
        kind="vllm",
        argv=argv,
        env=env,
        host=preset.host,
        port=port,
        cwd=paths.state_dir,
        startup_timeout=preset.startup_timeout or startup_timeout,
        preset=preset,
        served_model_name=served,
        model=preset.model,
        api_key_env=preset.api_key_env or key_env(name),
        dtype=dtype,
    )


THREADS_BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"
KEEP_ALIVE_ENV = "VLLM_HTTP_TIMEOUT_KEEP_ALIVE"
SERVER_KEEP_ALIVE_S = 75
"""How long a server keeps an idle connection open (vLLM's own default is 5 s). It must outlast
the proxy's: LiteLLM's aiohttp client keeps idle connections 15 s (``AIOHTTP_KEEPALIVE_TIMEOUT``)
and reuses one the server is closing, which fails with "Cannot write to closing transport"; with
``allowed_fails: 0`` both deployments were cooled down and a burst of 1,000 requests got a 500
(seen twice in CI's ``test_thousand_concurrent_requests``)."""


def instance_cores(instance: int, instances: int, cpus: Sequence[int]) -> str:
    """``VLLM_CPU_OMP_THREADS_BIND`` for instance ``instance`` of ``instances`` on ``cpus``.

    The usable CPUs are split into equal contiguous shares, one per instance; with more instances
    than CPUs they share round-robin. In a share of two or more, the last CPU is left to the
    instance's API server (measured on 2 cores, one server: OpenMP threads on one core and the API
    server on the other did 1.75 requests/s, on both cores 1.14: benchmarks/README.md), as vLLM's
    own ``auto`` does for one server. ``auto`` cannot serve several: it binds each to the same
    cores of NUMA node 0.
    """
    if not cpus:
        return "auto"
    share = max(1, len(cpus) // instances)
    start = (instance * share) % len(cpus)
    mine = list(cpus[start : start + share])
    if len(mine) > 1:
        mine = mine[:-1]
    if len(mine) == 1 or mine != list(range(mine[0], mine[-1] + 1)):
        return ",".join(map(str, mine))
    return f"{mine[0]}-{mine[-1]}"


def cpu_kv_space_default(preset: Preset, model: ResolvedModel, dtype: DtypeChoice) -> int:
    """``VLLM_CPU_KVCACHE_SPACE`` (GiB) for a cpu server whose preset and environment set none.

    From the model's shape when its folder is local (see ``default_cpu_kv_space_gib``); a model
    that cannot be read gets the default for an unknown size.
    """
    shape = None
    if model.local:
        try:
            shape = load_shape(Path(model.arg), dtype.value)
        except PlanProblem:
            shape = None  # `up` reports a broken config.json through the planner
    return default_cpu_kv_space_gib(shape, preset.max_model_len, this_cpu().ram_bytes)
