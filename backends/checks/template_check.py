"""The render check every chat template must pass before a server is started with it.

:func:`check_template` renders a template against a handful of conversations and returns the
problems it finds (an empty list means the template is fit to serve): the generation prompt,
BOS, both tools and a parameter of each in the prompt, an assistant tool call and its result,
and plain conversations. :func:`check_preset_template` is the entry point for ``presets check``:
it takes whatever a preset's ``chat_template`` names (a shipped name or a path). Rendering is
:func:`naptha_tui.backends.checks.chat_templates.render_template`, the environment
transformers uses.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

from naptha_tui.backends.checks.chat_templates import (
    SHIPPED,
    TemplateFamily,
    TemplateRaised,
    compile_template,
    render_template,
    shipped_dir,
)

# --- the render check ---------------------------------------------------------------------------

CHECK_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name."},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_flights",
            "description": "Flights between two airports.",
            "parameters": {
                "type": "object",
                "properties": {
                    "origin": {"type": "string"},
                    "destination": {"type": "string"},
                    "max_stops": {"type": "integer", "default": 1},
                },
                "required": ["origin", "destination"],
            },
        },
    },
]
"""The two tools every check renders (names and one parameter each must reach the prompt)."""

_SYSTEM = {"role": "system", "content": "You are terse."}
_PLAIN = [
    _SYSTEM,
    {"role": "user", "content": "Say hello."},
    {"role": "assistant", "content": "Hello there."},
    {"role": "user", "content": "Again, please."},
]
_ASK = [_SYSTEM, {"role": "user", "content": "How warm is the capital of France?"}]
# 9 alphanumeric characters: the one id shape every format accepts (Mistral's)
_CALL_ID = "a1B2c3D4e"
_CALL_ARGUMENTS = {"city": "Paris", "unit": "celsius"}
_RESULT = "18 degrees and sunny"


def _called(arguments: Any) -> list[dict[str, Any]]:
    call = {"name": "get_weather", "arguments": arguments}
    return [
        *_ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": _CALL_ID, "type": "function", "function": call}],
        },
        {"role": "tool", "tool_call_id": _CALL_ID, "content": _RESULT},
    ]


def _tail(text: str, size: int = 60) -> str:
    return repr(text[-size:])


def check_template(
    path: Path | str,
    family: TemplateFamily | None = None,
    *,
    bos_token: str | None = None,
    eos_token: str | None = None,
) -> list[str]:
    """Render ``path`` against fixed conversations and list what is wrong with it.

    The checks: (a) with ``add_generation_prompt`` the prompt ends with the family's generation
    prompt and without it does not; (b) BOS is written once, at the start (or never, for
    families whose template does not write it); (c) both of :data:`CHECK_TOOLS` and a parameter
    of each reach the prompt; (d) an assistant tool call (arguments as an object, as vLLM passes
    them) and its result both render, in the family's call format; arguments given as a JSON
    string render too or are refused through ``raise_exception``; (e) plain conversations, with
    and without a system message, render with all their text.

    Args:
        path: the template file.
        family: what the template is for; by default the :data:`SHIPPED` entry of its file name.
            Without one, only what holds for any template is checked: the generation prompt
            must extend the prompt, and BOS (if given) may appear once, at the start.
        bos_token: overrides the family's BOS (or gives one to an unknown template).
        eos_token: overrides the family's EOS.

    Returns:
        One line per problem, each starting with the file name; empty when the template passes.
    """
    path = Path(path)
    if family is None:
        family = SHIPPED.get(path.name)
        if family is None:
            problems = [f"{path.name}: no entry in chat_templates.SHIPPED (model, parser, tokens)"]
            return problems + _check(path, _unknown_family(bos_token, eos_token))
    if bos_token is not None:
        family = replace(family, bos_token=bos_token)
    if eos_token is not None:
        family = replace(family, eos_token=eos_token)
    return _check(path, family)


def check_preset_template(
    template: str | Path,
    *,
    bos_token: str | None = None,
    eos_token: str | None = None,
    base: Path | None = None,
) -> list[str]:
    """The render check for a preset's ``chat_template`` value, for ``presets check``.

    Args:
        template: a shipped template by file name (``"llama3.1_json.jinja"``, the suffix may be
            left out) or a path; a relative path is taken from ``base``.
        bos_token: the served model's BOS, when known (required to check BOS on a template that
            is not shipped).
        eos_token: the served model's EOS, when known.
        base: the folder a relative path is relative to (the preset's folder); default the
            current directory.

    Returns:
        The problems found (see :func:`check_template`); a missing file is one problem. A
        template that is not shipped gets the checks that hold for any template.
    """
    value = str(template)
    if "/" not in value:
        name = value if value.endswith(".jinja") else f"{value}.jinja"
        shipped = shipped_dir() / name
        if shipped.is_file():
            return check_template(shipped, bos_token=bos_token, eos_token=eos_token)
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    if not path.is_file():
        return [f"{value}: no such template (not shipped, and {path} does not exist)"]
    return check_template(
        path, _unknown_family(bos_token, eos_token), bos_token=bos_token, eos_token=eos_token
    )


def _unknown_family(bos_token: str | None, eos_token: str | None) -> TemplateFamily:
    return TemplateFamily(
        model="unknown",
        parser="",
        bos_token=bos_token or "",
        eos_token=eos_token or "",
        generation_prompt="",
        prompt_end="",
        call_example="",
        call_prefix="",
        bos_written=None,
    )


class _Renderer:
    """Renders one template with one family's tokens, collecting failures as problems."""

    def __init__(self, name: str, source: str, family: TemplateFamily) -> None:
        self.name, self.source, self.family = name, source, family
        self.problems: list[str] = []

    def __call__(
        self,
        what: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        generation: bool = True,
    ) -> str | None:
        try:
            return render_template(
                self.source,
                messages,
                tools=tools,
                add_generation_prompt=generation,
                bos_token=self.family.bos_token,
                eos_token=self.family.eos_token,
            )
        except Exception as exc:  # a template can fail in any way; report, never crash
            self.problems.append(f"{self.name}: {what} fails: {type(exc).__name__}: {exc}")
            return None

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.name}: {text}")


def _check(path: Path, family: TemplateFamily) -> list[str]:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [f"{path.name}: cannot read {path}: {exc.strerror or exc}"]
    try:
        compile_template(source)
    except jinja2.TemplateSyntaxError as exc:
        return [f"{path.name}: line {exc.lineno}: {exc.message}"]
    render = _Renderer(path.name, source, family)
    _check_plain(render)
    _check_generation_prompt(render)
    _check_tools(render)
    _check_call(render)
    return render.problems


def _check_plain(render: _Renderer) -> None:
    """(e) plain conversations render, with every message's text; (b) on each of them."""
    for what, messages in (
        ("a conversation with a system message", _PLAIN),
        ("a conversation without a system message", _PLAIN[1:]),
    ):
        for generation in (True, False):
            text = render(
                f"{what} (add_generation_prompt={generation})", messages, None, generation
            )
            if text is None:
                continue
            missing = [m["content"] for m in messages if m["content"] not in text]
            if missing:
                render.problem(f"{what}: text missing from the prompt: {missing}")
            _check_bos(render, text, what)


def _check_bos(render: _Renderer, text: str, what: str) -> None:
    """(b) BOS once at the start, never, or (unknown template) at most once at the start."""
    bos, family = render.family.bos_token, render.family
    if not bos:
        return
    count = text.count(bos)
    if family.bos_written is True and (count != 1 or not text.startswith(bos)):
        render.problem(
            f"{what}: BOS {bos!r} must be written once, at the start "
            f"(found {count} time(s), prompt starts {text[:40]!r})"
        )
    elif family.bos_written is False and bos not in family.generation_prompt and count:
        render.problem(f"{what}: BOS {bos!r} is written {count} time(s); this family writes none")
    elif family.bos_written is None and (count > 1 or (count == 1 and not text.startswith(bos))):
        render.problem(f"{what}: BOS {bos!r} must appear at most once, at the start ({count})")


def _check_generation_prompt(render: _Renderer) -> None:
    """(a) the generation prompt, with and without tools."""
    family = render.family
    for what, tools in (("without tools", None), ("with tools", CHECK_TOOLS)):
        on = render(f"the prompt {what} (add_generation_prompt=True)", _ASK, tools, True)
        off = render(f"the prompt {what} (add_generation_prompt=False)", _ASK, tools, False)
        if on is None or off is None:
            continue
        if family.prompt_end and not on.endswith(family.prompt_end):
            render.problem(
                f"{what}: with add_generation_prompt the prompt must end with "
                f"{family.prompt_end!r}, it ends {_tail(on)}"
            )
        if family.generation_prompt:
            if off.endswith(family.generation_prompt):
                render.problem(
                    f"{what}: without add_generation_prompt the prompt must not end with "
                    f"{family.generation_prompt!r}"
                )
            if on != off + family.generation_prompt:
                render.problem(
                    f"{what}: add_generation_prompt must append exactly "
                    f"{family.generation_prompt!r} (it ends {_tail(on)})"
                )
        elif family.prompt_end and on != off:
            render.problem(f"{what}: add_generation_prompt must change nothing in this format")
        elif not family.prompt_end and not (on.startswith(off) and len(on) > len(off)):
            render.problem(f"{what}: add_generation_prompt must append a generation prompt")


def _check_tools(render: _Renderer) -> None:
    """(c) both tools, and one parameter of each, reach the prompt."""
    text = render("the prompt with two tools", _ASK, CHECK_TOOLS)
    if text is None:
        return
    for tool in CHECK_TOOLS:
        function = tool["function"]
        parameter = next(iter(function["parameters"]["properties"]))
        missing = [word for word in (function["name"], parameter) if word not in text]
        if missing:
            render.problem(f"with tools: {missing} missing from the prompt (tools ignored?)")


def _check_call(render: _Renderer) -> None:
    """(d) an assistant tool call and its result render, in the family's call format."""
    family = render.family
    text = render("an assistant tool call and its result", _called(_CALL_ARGUMENTS), CHECK_TOOLS)
    before = render("the prompt with two tools", _ASK, CHECK_TOOLS)
    if text is None or before is None:
        return
    name = "get_weather"
    if family.call_prefix and family.call_prefix.format(name=name) not in text:
        render.problem(
            f"tool call: {family.call_prefix.format(name=name)!r} missing from the prompt "
            f"(the {family.parser} format)"
        )
    elif text.count(name) <= before.count(name):
        render.problem(f"tool call: the call to {name} does not appear in the prompt")
    for word in ("Paris", _RESULT):
        if word not in text:
            render.problem(f"tool call: {word!r} missing from the prompt")
    try:
        as_string = render_template(
            render.source,
            _called(json.dumps(_CALL_ARGUMENTS)),
            tools=CHECK_TOOLS,
            add_generation_prompt=True,
            bos_token=family.bos_token,
            eos_token=family.eos_token,
        )
    except TemplateRaised:
        return  # refusing a JSON string explicitly is fine: vLLM passes objects
    except Exception as exc:
        render.problem(
            f"tool call with arguments as a JSON string fails: {type(exc).__name__}: {exc} "
            "(render them, or refuse them with raise_exception)"
        )
        return
    if "Paris" not in as_string:
        render.problem("tool call with arguments as a JSON string: 'Paris' missing from the prompt")
