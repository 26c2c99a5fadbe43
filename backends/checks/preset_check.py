"""`presets check`: would the vLLM that runs a preset accept what the preset asks for?

Checked against the preset's runtime's own vLLM when it is installed (asked through
:mod:`naptha_tui.backends.checks.vllm_surface`), else the static table
(:mod:`naptha_tui.backends.checks.vllm_static_table`): ``extra_args`` (the one place a wrong
flag can hide; typed keys always render flags naptha-tui knows), the typed keys' flags and
values against a runtime, ``tool_call_parser`` against the registered parsers plus those the
preset's plugin provides, and ``enable_auto_tool_choice`` without a parser (vLLM refuses to
start). Everything here returns data (the reports of
:mod:`naptha_tui.backends.checks.preset_report`); the CLI prints it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from naptha_tui.backends.checks.preset_report import (
    NOT_CHECKED,
    REMOTE,
    PresetReport,
    Problem,
    ProblemKind,
)
from naptha_tui.backends.checks.template_check import check_preset_template
from naptha_tui.backends.checks.vllm_static_table import PLUGIN_TOOL_PARSERS, removed_entry
from naptha_tui.backends.checks.vllm_surface import Surfaces, VllmSurface, iter_flags
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset, PresetCatalog, PresetError, load_preset_file
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.cpu import CpuInfo, cpu_dtype, this_cpu
from naptha_tui.backends.vllm_options import option_flag, option_flags
from naptha_tui.backends.yamlfile import FILE_KEY, ConfigFileError, YamlDoc, load_yaml

_REGISTER = re.compile(r"register_(lazy_)?module\(([^)]*)\)")
_QUOTED = re.compile(r"[\"']([A-Za-z0-9_.-]+)[\"']")


def plugin_parsers(preset: Preset) -> frozenset[str] | None:
    """Parser names the preset's plugin registers; None when they cannot be known."""
    plugin = preset.tool_parser_plugin
    if plugin is None:
        return frozenset()
    if plugin in PLUGIN_TOOL_PARSERS:
        return PLUGIN_TOOL_PARSERS[plugin]
    base = preset.source.parent if preset.source else Path.cwd()
    try:
        text = (base / Path(plugin).expanduser()).read_text(encoding="utf-8")
    except OSError:
        return None
    names: set[str] = set()
    for lazy, inside in _REGISTER.findall(text):
        quoted = _QUOTED.findall(inside)
        names.update(quoted[:1] if lazy else quoted)
    return frozenset(names) or None


def _typed_flags(preset: Preset) -> dict[str, tuple[str, str | None]]:
    """Flag → (preset key, rendered value) for every typed key the preset sets."""
    flags = {name: (key, value) for key, name, value in option_flags(preset)}
    for key in ("chat_template", "tool_parser_plugin"):  # the order render_args gives them
        if getattr(preset, key) is not None:
            flags[option_flag(key)] = (key, None)
    return flags


# flags the panel itself renders for every server
_PANEL_FLAGS = {"--host", "--port", "--served-model-name", "--model"}


def _closest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=3)
    return f" (closest: {', '.join(close)})" if close else ""


class _Checker:
    def __init__(self, preset: Preset, surface: VllmSurface, doc: YamlDoc | None) -> None:
        self.preset, self.surface, self.doc = preset, surface, doc
        self.problems: list[Problem] = []
        self.where = f"vLLM {surface.version}" if surface.version else "vLLM"

    def add(self, key: str, message: str, kind: ProblemKind, loc: Sequence[int | str]) -> None:
        line = None
        if self.doc is not None:
            if loc and loc[0] not in self.doc.data and self.preset.profile is not None:
                loc, message = ["profile"], f"{message} (from profile {self.preset.profile})"
            line = self.doc.line_of(loc)
        source = self.preset.source
        self.problems.append(
            Problem(
                str(source) if source else self.preset.name,
                key,
                message,
                line,
                self.preset.name,
                kind,
            )
        )

    def extra_args(self) -> None:
        surface, typed = self.surface, _typed_flags(self.preset)
        for index, flag, value in iter_flags(self.preset.extra_args, surface.no_value):
            loc: list[int | str] = ["extra_args", index]
            entry = removed_entry(flag)
            base = flag.split(".", 1)[0]
            if surface.exact and base not in surface.flags:
                message = f"{flag}: not an option of {self.where}"
                if entry is not None:
                    message += f"; {entry.gone}; {entry.advice()}"
                else:
                    message += _closest(base, surface.flags)
                self.add("extra_args", message, "flag", loc)
                continue
            if entry is not None and (entry.deprecated or not surface.exact):
                what = (
                    entry.gone if entry.deprecated else f"vLLM no longer accepts it; {entry.gone}"
                )
                self.add("extra_args", f"{flag}: {what}; {entry.advice()}", "flag", loc)
                continue
            if flag in _PANEL_FLAGS:
                self.add(
                    "extra_args",
                    f"{flag}: naptha-tui sets it for every server (use the preset's own keys)",
                    "option",
                    loc,
                )
            elif flag in typed:
                key = typed[flag][0]
                self.add(
                    "extra_args",
                    f"{flag}: already set by the key {key}; two values, the later one wins",
                    "option",
                    loc,
                )
            self._value(flag, value, "extra_args", loc)

    def _value(self, flag: str, value: str | None, key: str, loc: Sequence[int | str]) -> None:
        surface = self.surface
        if value is None:
            return
        allowed = surface.choices.get(flag)
        if allowed and value not in allowed:
            self.add(
                key, f"{flag} {value}: {self.where} accepts {', '.join(allowed)}", "option", loc
            )
        reasoning = surface.reasoning_parsers
        if flag == "--reasoning-parser" and reasoning is not None and value not in reasoning:
            message = f"{flag} {value}: not a reasoning parser {self.where} registers"
            self.add(key, message + _closest(value, reasoning), "parser", loc)
        if flag == "--tool-call-parser":
            self._parser(value, key, loc)

    def typed(self) -> None:
        if not self.surface.exact:
            return  # typed keys render flags naptha-tui knows; only a runtime can say otherwise
        for flag, (key, value) in _typed_flags(self.preset).items():
            if flag not in self.surface.flags:
                self.add(key, f"{flag}: not an option of {self.where}", "flag", [key])
            elif key != "tool_call_parser":
                self._value(flag, value, key, [key])

    def _parser(self, name: str, key: str, loc: Sequence[int | str]) -> None:
        provided = plugin_parsers(self.preset)
        if provided is None:
            return  # a plugin whose names cannot be read: vLLM will say at start-up
        known = self.surface.tool_parsers | provided
        if name in known:
            return
        by = f"{self.where} registers" if self.surface.exact else "vLLM registers (static list)"
        plugin = self.preset.tool_parser_plugin
        extra = f" nor plugin {plugin} provides" if plugin else ""
        message = f"{name!r}: not a tool-call parser {by}{extra}{_closest(name, known)}"
        self.add(key, message, "parser", loc)

    def tools(self) -> None:
        preset = self.preset
        if preset.tool_call_parser is not None:
            self._parser(preset.tool_call_parser, "tool_call_parser", ["tool_call_parser"])
        if preset.enable_auto_tool_choice and preset.tool_call_parser is None:
            self.add(
                "enable_auto_tool_choice",
                "needs tool_call_parser (vLLM refuses to start without one)",
                "option",
                ["enable_auto_tool_choice"],
            )

    def timeouts(self) -> None:
        """A stall limit the start-up timeout cuts short never restarts anything."""
        stall, timeout = self.preset.startup_stall_timeout, self.preset.startup_timeout
        if stall and timeout is not None and stall >= timeout:
            self.add(
                "startup_stall_timeout",
                f"{stall:g} s is not below startup_timeout {timeout:g} s: a silent start is "
                "called unhealthy before it would be restarted; lower it",
                "option",
                ["startup_stall_timeout"],
            )

    def dtype(self, cpu: CpuInfo) -> None:
        """A half-precision dtype this CPU emulates, on the cpu runtime (a warning)."""
        if not self.preset.on_cpu:
            return
        choice = cpu_dtype(self.preset.dtype, cpu)
        if choice.warning:
            self.add("dtype", choice.warning, "dtype", ["dtype"])

    def template(self) -> None:
        """The chat template renders: generation prompt, one BOS, tools and tool results."""
        value = self.preset.chat_template
        if value is None:
            return
        base = self.preset.source.parent if self.preset.source else None
        for problem in check_preset_template(value, base=base):
            self.add("chat_template", problem, "template", ["chat_template"])


def check_preset(preset: Preset, surface: VllmSurface, cpu: CpuInfo | None = None) -> list[Problem]:
    """What ``surface``'s vLLM would reject in ``preset`` (nothing for a remote preset).

    Also warns of a dtype that ``cpu`` (this machine's by default) emulates.
    """
    if preset.kind == "remote":
        return []
    doc = None
    if preset.source is not None:
        try:
            doc = load_yaml(preset.source)
        except ConfigFileError:
            doc = None
    checker = _Checker(preset, surface, doc)
    checker.extra_args()
    checker.typed()
    checker.tools()
    checker.template()
    checker.timeouts()
    checker.dtype(cpu or this_cpu())
    return checker.problems


def _load_problems(exc: ConfigFileError, preset: str) -> tuple[Problem, ...]:
    """The problems of a file that does not load, as ``invalid`` problems of ``preset``."""
    return tuple(
        Problem(str(p.file), p.key or FILE_KEY, p.message, p.line, preset, "invalid")
        for p in exc.problems
    )


def check_file(path: Path, surfaces: Surfaces, runtime: str | None = None) -> PresetReport:
    """Load and check one preset file against its runtime's vLLM (or ``runtime``'s)."""
    try:
        preset = load_preset_file(path)
    except ConfigFileError as exc:
        return PresetReport(str(path), path.stem, NOT_CHECKED, _load_problems(exc, path.stem))
    if preset.kind == "remote":
        return PresetReport(str(path), preset.name, REMOTE, model=preset.base_url or "")
    name = runtime or preset.runtime
    surface = surfaces.for_runtime(name)
    problems = tuple(check_preset(preset, surface))
    return PresetReport(str(path), preset.name, surface.source, problems, preset.model, name)


def resolve_targets(targets: Sequence[str], catalog: PresetCatalog) -> list[Path]:
    """Preset files for names and paths; every known preset when ``targets`` is empty.

    Raises:
        PresetError: a name that is neither a file nor a known preset.
    """
    files = catalog.files()
    if not targets:
        return list(files.values())
    found = []
    for target in targets:
        path = Path(target).expanduser()
        if path.suffix in {".yaml", ".yml"} or "/" in target or path.exists():
            found.append(path)
        elif target in files:
            found.append(files[target])
        else:
            known = ", ".join(sorted(files)) or "none"
            raise PresetError(f"unknown preset {target!r} (known: {known})")
    return found


def check_presets(
    targets: Sequence[str],
    paths: Paths,
    settings: Settings,
    *,
    runtime: str | None = None,
    static_only: bool = False,
) -> list[PresetReport]:
    """``presets check``: one report per preset named (or every known one).

    Args:
        targets: preset names or files; empty for every shipped and user preset.
        paths: where the user's presets and the surface cache live.
        settings: for runtimes named in settings.
        runtime: check against this runtime instead of each preset's own.
        static_only: never ask a runtime; use the static table.
    """
    catalog = PresetCatalog(paths.user_presets_dir)
    surfaces = Surfaces(paths, settings, static_only=static_only)
    return [check_file(p, surfaces, runtime) for p in resolve_targets(targets, catalog)]
