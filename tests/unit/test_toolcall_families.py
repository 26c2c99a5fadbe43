"""Presets, chat templates and parsers agree, family by family.

A template teaches the model a call format through the calls it renders in past turns; the
server's parser must read that same format back. So for each template our parsers serve, the
assistant turn the template renders for a call is fed to the parser, which must return that
call. And every shipped preset pairs a template with the parser the template was written for.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from naptha_tui.backends.checks.chat_templates import SHIPPED, render_template, shipped_dir
from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.toolcalls import FORMATS, parse, stream
from naptha_tui.backends.toolcalls.base import mistral_id, openai_id

# the template's parser -> our format that reads what the template renders
OURS = {"hermes": "naptha_hermes", "naptha_functionary": "naptha_functionary"}
OURS["naptha_minicpm3"] = "naptha_minicpm3"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ASK = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "How warm is it in Paris?"},
]
ARGUMENTS = {"city": "Paris", "unit": "celsius", "days": [1, 2], "note": 'say "hi"'}
TURN_ENDS = ("<|eom_id|>", "<|eot_id|>", "<|im_end|>", "</s>")


def served_templates() -> list[str]:
    return sorted(name for name, family in SHIPPED.items() if family.parser in OURS)


def assistant_turn(template: str, call_id: str) -> str:
    """What the template renders for an assistant turn holding one call."""
    family = SHIPPED[template]
    source = (shipped_dir() / template).read_text()
    tokens = {"bos_token": family.bos_token, "eos_token": family.eos_token}
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": ARGUMENTS},
            }
        ],
    }
    prompt = render_template(source, ASK, tools=TOOLS, add_generation_prompt=True, **tokens)
    full = render_template(source, [*ASK, call], tools=TOOLS, **tokens)
    assert full.startswith(prompt), "a past turn must extend the prompt the model was given"
    turn = full[len(prompt) :]
    cut = min((turn.find(end) for end in TURN_ENDS if end in turn), default=len(turn))
    return turn[:cut]


def test_our_parsers_serve_some_shipped_templates() -> None:
    assert {SHIPPED[t].parser for t in served_templates()} == set(OURS)


@pytest.mark.parametrize("template", served_templates())
def test_the_parser_reads_back_the_calls_its_template_renders(template: str) -> None:
    fmt = OURS[SHIPPED[template].parser]
    call_id = stream(fmt).new_id()
    turn = assistant_turn(template, call_id)
    parsed = parse(fmt, turn)
    assert [c.name for c in parsed.calls] == ["get_weather"], turn
    assert json.loads(parsed.calls[0].arguments) == ARGUMENTS
    assert not (parsed.content or "").strip(), parsed.content
    # the family's own example of a call parses too
    example = parse(fmt, SHIPPED[template].call_example)
    assert [(c.name, json.loads(c.arguments)) for c in example.calls] == [
        ("get_weather", {"city": "Paris"})
    ]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_ids_follow_the_family_style(fmt: str) -> None:
    calls = parse(fmt, FORMATS[fmt].example).calls
    assert len(calls) == 1 and re.fullmatch(r"call_[A-Za-z0-9]{24}", calls[0].id)
    mistral = parse(fmt, FORMATS[fmt].example, id_style="mistral").calls
    assert re.fullmatch(r"[A-Za-z0-9]{9}", mistral[0].id)


def test_mistral_template_keeps_nine_character_ids() -> None:
    """Mistral's template wants 9 alphanumeric ids: ours render verbatim, call and result."""
    source = (shipped_dir() / "mistral_parallel.jinja").read_text()
    call_id = mistral_id()
    messages: list[dict[str, Any]] = [
        *ASK,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18 C"},
    ]
    text = render_template(source, messages, tools=TOOLS, bos_token="<s>", eos_token="</s>")
    assert text.count(call_id) == 2
    assert len({mistral_id() for _ in range(50)}) == 50 and len(openai_id()) == 29


def test_every_shipped_preset_pairs_template_and_parser() -> None:
    presets, errors = PresetCatalog(None).load_all()
    assert not errors
    checked = 0
    for preset in presets:
        parser = preset.tool_call_parser
        if parser is not None and parser.startswith("naptha_"):
            assert parser in FORMATS and preset.tool_parser_plugin == "naptha", preset.name
        template = preset.chat_template
        if template in SHIPPED and parser is not None:
            expected = SHIPPED[template].parser
            assert parser == expected or OURS.get(expected) == parser, preset.name
            checked += 1
    assert checked >= 6
