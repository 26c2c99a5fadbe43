"""Chat templates for tool calling: which family each shipped template serves, and a render check.

vLLM renders a chat template through Hugging Face transformers (``apply_chat_template``), so
:func:`render_template` builds the same Jinja environment transformers 5 does
(``transformers/utils/chat_template_utils.py``): an ``ImmutableSandboxedEnvironment`` with
``trim_blocks`` and ``lstrip_blocks``, the ``loopcontrols`` extension and a pass-through
``{% generation %}`` tag, a ``tojson`` filter that is plain ``json.dumps`` (no HTML escaping,
no key sorting), and the globals ``raise_exception`` and ``strftime_now``. The template sees
``messages``, ``tools`` (``None`` when there are none), ``documents``,
``add_generation_prompt`` and the tokenizer's special tokens (``bos_token``, ``eos_token``).
transformers then tokenizes the text without adding special tokens, which is why a template must
write BOS itself, exactly once. Before rendering, vLLM turns the JSON-string ``arguments`` of
past tool calls into objects, so templates get objects when served; a template used elsewhere
may get the string, and must then render it or refuse it with ``raise_exception``.

The render check that every template must pass is in :mod:`.template_check`.

Token parity with a model's official template is established only for SmolLM2
(``smollm2_tool_use.jinja``): the embedded model carries its official template in its GGUF and in
its prepared Hugging Face folder, with the tokenizer, and tests/unit/test_chat_templates.py
compares token ids for conversations without tools. For the other families neither the official
template nor the tokenizer is available offline, so their templates follow the official formats
and vLLM's examples from the source named in each template's header and are held to the render
check only; their parity with the official templates is not established here.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES_PACKAGE = "naptha_tui.templates"


@dataclass(frozen=True)
class TemplateFamily:
    """What a chat template is for: the model, its tokens and the shape of its tool calls."""

    model: str
    """The model (family) the template is written for."""
    parser: str
    """The ``--tool-call-parser`` name that reads what the model writes with this template."""
    bos_token: str
    """The tokenizer's BOS, as vLLM passes it to the template."""
    eos_token: str
    """The tokenizer's EOS, as vLLM passes it to the template."""
    generation_prompt: str
    """What ``add_generation_prompt`` appends: the assistant header ("" if the format has none)."""
    prompt_end: str
    """What a prompt ending with a user turn ends with, generation prompt included."""
    call_example: str
    """How the model writes a call to ``get_weather(city="Paris")``."""
    call_prefix: str
    """What every rendered call to the tool ``{name}`` contains (a ``str.format`` pattern)."""
    bos_written: bool | None = True
    """True: the template starts with BOS, once; False: it never writes BOS; None: unknown."""


_LLAMA3_BOS, _LLAMA3_EOS = "<|begin_of_text|>", "<|eot_id|>"
_LLAMA3_HEADER = "<|start_header_id|>assistant<|end_header_id|>\n\n"
_CHATML_HEADER = "<|im_start|>assistant\n"

SHIPPED: dict[str, TemplateFamily] = {
    "llama3.1_json.jinja": TemplateFamily(
        model="Llama 3.1 / 3.2 Instruct",
        parser="llama3_json",
        bos_token=_LLAMA3_BOS,
        eos_token=_LLAMA3_EOS,
        generation_prompt=_LLAMA3_HEADER,
        prompt_end=_LLAMA3_HEADER,
        call_example='{"name": "get_weather", "parameters": {"city": "Paris"}}',
        call_prefix='{{"name": "{name}", "parameters": ',
    ),
    "toolace_pythonic.jinja": TemplateFamily(
        model="ToolACE-8B",
        parser="pythonic",
        bos_token=_LLAMA3_BOS,
        eos_token=_LLAMA3_EOS,
        generation_prompt=_LLAMA3_HEADER,
        prompt_end=_LLAMA3_HEADER,
        call_example="[get_weather(city='Paris')]",
        call_prefix="[{name}(",
    ),
    "mistral_parallel.jinja": TemplateFamily(
        model="Mistral-7B-Instruct-v0.3",
        parser="mistral",
        bos_token="<s>",
        eos_token="</s>",
        generation_prompt="",
        prompt_end="[/INST]",
        call_example='[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        call_prefix='[TOOL_CALLS] [{{"name": "{name}", "arguments": ',
    ),
    "internlm2_tool.jinja": TemplateFamily(
        model="internlm2_5-7b-chat",
        parser="internlm",
        bos_token="<s>",
        eos_token="</s>",
        generation_prompt=_CHATML_HEADER,
        prompt_end=_CHATML_HEADER,
        call_example=(
            '<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Paris"}}'
            "<|action_end|>"
        ),
        call_prefix='<|action_start|><|plugin|>\n{{"name": "{name}", "parameters": ',
    ),
    "minicpm3_tool.jinja": TemplateFamily(
        model="MiniCPM3-4B",
        parser="naptha_minicpm3",
        bos_token="<s>",
        eos_token="<|im_end|>",
        generation_prompt=_CHATML_HEADER,
        prompt_end=_CHATML_HEADER,
        call_example='<|tool_call_start|>\n```python\nget_weather(city="Paris")\n```\n<|tool_call_end|>',
        call_prefix="<|tool_call_start|>\n```python\n{name}(",
        bos_written=False,
    ),
    "functionary_v3.1.jinja": TemplateFamily(
        model="functionary-small-v3.1",
        parser="naptha_functionary",
        bos_token=_LLAMA3_BOS,
        eos_token=_LLAMA3_EOS,
        generation_prompt=_LLAMA3_HEADER,
        prompt_end=_LLAMA3_HEADER,
        call_example='<function=get_weather>{"city": "Paris"}</function><|eom_id|>',
        call_prefix="<function={name}>{{",
    ),
    "smollm2_tool_use.jinja": TemplateFamily(
        model="SmolLM2 Instruct",
        parser="hermes",
        # ChatML: SmolLM2's tokenizer calls <|im_start|> its BOS; no template writes it as one
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        generation_prompt=_CHATML_HEADER,
        prompt_end=_CHATML_HEADER,
        call_example=(
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        ),
        call_prefix='<tool_call>\n{{"name": "{name}", "arguments": ',
        bos_written=False,
    ),
}
"""Every template in templates/, by file name (tests fail for a template missing here)."""


def shipped_dir() -> Path:
    """The folder of the shipped templates."""
    return Path(str(importlib.resources.files(TEMPLATES_PACKAGE)))


def shipped_templates() -> list[str]:
    """The file names of the shipped templates, sorted."""
    return sorted(p.name for p in shipped_dir().iterdir() if p.name.endswith(".jinja"))


# --- rendering, as transformers does it -------------------------------------------------------


class TemplateRaised(jinja2.TemplateError):
    """The template refused its input by calling ``raise_exception(message)``."""


def _raise_exception(message: str) -> NoReturn:
    raise TemplateRaised(message)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # transformers replaces Jinja's tojson, which HTML-escapes and sorts keys
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class _GenerationTag(jinja2.ext.Extension):
    """``{% generation %}…{% endgeneration %}``: transformers' assistant-mask tag, as plain text."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


@functools.lru_cache(maxsize=32)
def compile_template(source: str) -> jinja2.Template:
    """Compile ``source`` in the environment transformers' ``apply_chat_template`` uses.

    Raises:
        jinja2.TemplateSyntaxError: the source is not valid Jinja.
    """
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_GenerationTag, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(source)


def render_template(
    source: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    bos_token: str = "",
    eos_token: str = "",
    **kwargs: Any,
) -> str:
    """Render a chat template the way transformers (and so vLLM) does, without tokenizing.

    Args:
        source: the template text.
        messages: OpenAI-style messages (assistant ``tool_calls``, ``tool`` results).
        tools: OpenAI-style tool definitions; ``None`` (or empty) when there are none.
        add_generation_prompt: end with the header that makes the model answer.
        bos_token: the tokenizer's BOS.
        eos_token: the tokenizer's EOS.
        **kwargs: further template variables (vLLM's ``chat_template_kwargs``).

    Raises:
        jinja2.TemplateError: a syntax error, an undefined operation, or the template's own
            ``raise_exception`` (then a :class:`TemplateRaised`).
    """
    return compile_template(source).render(
        messages=list(messages),
        tools=list(tools) if tools else None,
        documents=None,
        add_generation_prompt=add_generation_prompt,
        bos_token=bos_token,
        eos_token=eos_token,
        **kwargs,
    )


def family_of(template: str | Path) -> TemplateFamily | None:
    """The family of a shipped template (by file name, with or without ``.jinja``), else None."""
    name = Path(str(template)).name
    return SHIPPED.get(name if name.endswith(".jinja") else f"{name}.jinja")
