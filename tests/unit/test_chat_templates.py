"""Shipped chat templates: the render check for each, proof the check can fail, the call formats
the parsers read, and token parity with SmolLM2's official template.

Only SmolLM2's official template is at hand offline (in the embedded model's GGUF and in its
prepared Hugging Face folder, with tokenizer.json); the other families are held to the render
check and to their parsers' formats, not to token parity (see backends/checks/chat_templates.py).
"""

from __future__ import annotations

import ast
import json
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

import jinja2
import pytest

from naptha_tui.backends.checks.chat_templates import (
    SHIPPED,
    TemplateRaised,
    family_of,
    render_template,
    shipped_dir,
    shipped_templates,
)
from naptha_tui.backends.checks.template_check import (
    CHECK_TOOLS,
    check_preset_template,
    check_template,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.models import EMBEDDED, find_gguf, hf_dir, is_prepared, model_dir
from tests.conftest import REAL_DATA_DIR

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
REPO_TEMPLATES = sorted(p.name for p in TEMPLATES.glob("*.jinja"))
MODEL = "smollm2-135m"


def source(name: str) -> str:
    return (TEMPLATES / name).read_text()


def render(name: str, messages: list[dict[str, Any]], **kwargs: Any) -> str:
    family = SHIPPED[name]
    tokens = {"bos_token": family.bos_token, "eos_token": family.eos_token}
    return render_template(source(name), messages, **{**tokens, **kwargs})


# --- every shipped template passes -------------------------------------------------------------


@pytest.mark.parametrize("name", REPO_TEMPLATES)
def test_shipped_template_passes_the_render_check(name: str) -> None:
    assert check_template(TEMPLATES / name) == []


@pytest.mark.parametrize("name", REPO_TEMPLATES)
def test_template_header_names_model_parser_and_source(name: str) -> None:
    text = source(name)
    assert text.startswith("{#"), "a template starts with a comment naming model, parser, source"
    header = text[: text.index("#}")]
    family = SHIPPED[name]
    assert f"`{family.parser}`" in header
    assert "official" in header or "vLLM" in header


def test_table_and_folder_agree() -> None:
    assert sorted(SHIPPED) == REPO_TEMPLATES
    assert shipped_templates() == REPO_TEMPLATES
    assert shipped_dir().joinpath("llama3.1_json.jinja").is_file()


def test_a_template_without_a_table_entry_fails(tmp_path: Path) -> None:
    copy = tmp_path / "new_model.jinja"
    copy.write_text(source("internlm2_tool.jinja"))
    problems = check_template(copy)
    assert problems == [
        "new_model.jinja: no entry in chat_templates.SHIPPED (model, parser, tokens)"
    ]


# --- the check can fail --------------------------------------------------------------------------


def broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = source(name)
    assert old in text
    path = tmp_path / name  # same file name: checked against the same family
    path.write_text(text.replace(old, new, 1))
    return path


def test_check_catches_a_dropped_generation_prompt(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "smollm2_tool_use.jinja",
        "{%- if add_generation_prompt -%}\n    {{- '<|im_start|>assistant\\n' -}}\n{%- endif -%}",
        "",
    )
    problems = check_template(path)
    assert any("with add_generation_prompt the prompt must end with" in p for p in problems)


def test_check_catches_a_generation_prompt_written_unconditionally(tmp_path: Path) -> None:
    # the mistake of vLLM's toolace example: the header even without add_generation_prompt
    path = broken(
        tmp_path,
        "toolace_pythonic.jinja",
        "{%- if add_generation_prompt %}",
        "{%- if true %}",
    )
    problems = check_template(path)
    assert any("without add_generation_prompt the prompt must not end with" in p for p in problems)


def test_check_catches_bos_written_twice(tmp_path: Path) -> None:
    # the original node's llama_3_1.jinja wrote bos_token at its top and again in the system turn
    path = broken(
        tmp_path,
        "llama3.1_json.jinja",
        '{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}',
        '{{- bos_token + "<|start_header_id|>system<|end_header_id|>\\n\\n" }}',
    )
    problems = check_template(path)
    assert any("BOS '<|begin_of_text|>' must be written once" in p for p in problems)


def test_check_catches_a_missing_bos(tmp_path: Path) -> None:
    path = broken(tmp_path, "internlm2_tool.jinja", "{{- bos_token }}", "")
    assert any("BOS '<s>' must be written once" in p for p in check_template(path))


def test_check_catches_a_template_that_ignores_tools(tmp_path: Path) -> None:
    # SmolLM2's own template knows nothing of tools or tool calls
    path = tmp_path / "smollm2_tool_use.jinja"
    path.write_text(official_smollm2_template())
    problems = check_template(path)
    assert any(
        "'get_weather', 'city'] missing from the prompt (tools ignored?)" in p for p in problems
    )
    assert any("an assistant tool call and its result fails" in p for p in problems)


def test_check_catches_a_call_in_the_wrong_format(tmp_path: Path) -> None:
    path = broken(tmp_path, "functionary_v3.1.jinja", '"<function=" + ', '"<call=" + ')
    problems = check_template(path)
    assert any("'<function=get_weather>{' missing from the prompt" in p for p in problems)


def test_check_catches_a_template_that_raises_on_plain_chat(tmp_path: Path) -> None:
    path = tmp_path / "llama3.1_json.jinja"
    path.write_text("{{ bos_token }}{{ messages[0]['content'] + none }}")
    problems = check_template(path)
    assert any("a conversation with a system message" in p and "fails" in p for p in problems)


def test_check_reports_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "llama3.1_json.jinja"
    path.write_text("{% if x %}no end")
    (problem,) = check_template(path)
    assert problem.startswith("llama3.1_json.jinja: line 1: ")


# --- presets check entry point ------------------------------------------------------------------


def test_preset_template_by_shipped_name() -> None:
    assert check_preset_template("mistral_parallel.jinja") == []
    assert check_preset_template("mistral_parallel") == []
    family = family_of("mistral_parallel")
    assert family is not None and family.parser == "mistral"


def test_preset_template_missing() -> None:
    (problem,) = check_preset_template("no_such_template.jinja")
    assert "no such template" in problem


def test_preset_template_from_a_path_gets_the_generic_checks(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "mine.jinja").write_text(source("llama3.1_json.jinja"))
    assert check_preset_template("./mine.jinja", base=folder, bos_token="<|begin_of_text|>") == []
    (folder / "twice.jinja").write_text("{{ bos_token }}" + source("llama3.1_json.jinja"))
    problems = check_preset_template(folder / "twice.jinja", bos_token="<|begin_of_text|>")
    assert any("must appear at most once, at the start" in p for p in problems)
    (folder / "nogen.jinja").write_text(official_smollm2_template().split("{% if add_gen")[0])
    problems = check_preset_template(folder / "nogen.jinja")
    assert any("add_generation_prompt must append a generation prompt" in p for p in problems)


# --- the environment is transformers' ------------------------------------------------------------


def test_render_environment_matches_transformers() -> None:
    text = render_template(
        "{% generation %}{{ {'b': '<é>', 'a': 1} | tojson }}{% endgeneration %}"
        "{% for i in range(5) %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}"
        "{{ strftime_now('%Y') | length }} {{ tools is none }}",
        [],
        tools=[],
    )
    assert text == '{"b": "<é>", "a": 1}014 True'  # no HTML escaping, no key sorting
    with pytest.raises(TemplateRaised, match="nope") as raised:
        render_template("{{ raise_exception('nope') }}", [])
    assert isinstance(raised.value, jinja2.TemplateError)
    with pytest.raises(jinja2.exceptions.SecurityError):
        render_template("{{ messages.append(1) }}", [])


# --- the call formats the parsers read -----------------------------------------------------------

CALL_ARGUMENTS = {"city": "Paris", "days": 3, "metric": True, "extra": None, "hours": [1, 2]}


def with_call(arguments: Any, call_id: str = "a1B2c3D4e") -> list[dict[str, Any]]:
    call = {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }
    return [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
    ]


def test_toolace_calls_are_python_the_pythonic_parser_reads() -> None:
    text = render("toolace_pythonic.jinja", with_call(CALL_ARGUMENTS), tools=CHECK_TOOLS)
    body = re.search(r"assistant<\|end_header_id\|>\n\n(\[.*?\])<\|eot_id\|>", text)
    assert body is not None
    (call,) = ast.parse(body.group(1), mode="eval").body.elts  # type: ignore[attr-defined]
    assert call.func.id == "get_weather"
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == CALL_ARGUMENTS


@pytest.mark.parametrize("name", ["toolace_pythonic.jinja", "minicpm3_tool.jinja"])
def test_pythonic_templates_refuse_arguments_as_a_json_string(name: str) -> None:
    with pytest.raises(TemplateRaised, match="needs the arguments of get_weather as an object"):
        render(name, with_call(json.dumps(CALL_ARGUMENTS)))


@pytest.mark.parametrize("arguments", [CALL_ARGUMENTS, json.dumps(CALL_ARGUMENTS)])
def test_llama_call_is_the_json_llama3_json_reads(arguments: Any) -> None:
    text = render("llama3.1_json.jinja", with_call(arguments), tools=CHECK_TOOLS)
    body = re.search(r"assistant<\|end_header_id\|>\n\n(\{.*?\})<\|eot_id\|>", text)
    assert body is not None
    assert json.loads(body.group(1)) == {"name": "get_weather", "parameters": CALL_ARGUMENTS}
    assert '<|start_header_id|>ipython<|end_header_id|>\n\n{"output": "sunny"}<|eot_id|>' in text


def test_llama_refuses_parallel_calls() -> None:
    messages = with_call(CALL_ARGUMENTS)
    messages[1]["tool_calls"] *= 2
    with pytest.raises(TemplateRaised, match="one tool call per turn"):
        render("llama3.1_json.jinja", messages, tools=CHECK_TOOLS)


def test_mistral_calls_results_and_ids() -> None:
    long_id = "chatcmpl-tool-0123456789abcdefXYZ123456"
    text = render("mistral_parallel.jinja", with_call(CALL_ARGUMENTS, long_id), tools=CHECK_TOOLS)
    calls = re.search(r"\[TOOL_CALLS\] (\[.*?\])</s>", text)
    result = re.search(r"\[TOOL_RESULTS\] (\{.*?\})\[/TOOL_RESULTS\]", text)
    assert calls is not None and result is not None
    expected = {"name": "get_weather", "arguments": CALL_ARGUMENTS, "id": "XYZ123456"}
    assert json.loads(calls.group(1)) == [expected]
    assert json.loads(result.group(1)) == {"content": "sunny", "call_id": "XYZ123456"}
    for bad in ("short", "call-abc-def-ghi"):
        with pytest.raises(TemplateRaised, match="9 alphanumeric"):
            render("mistral_parallel.jinja", with_call(CALL_ARGUMENTS, bad))


def test_mistral_tools_and_system_go_with_the_last_user_message() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First."},
        {"role": "assistant", "content": "Ok."},
        {"role": "user", "content": "Second."},
    ]
    text = render("mistral_parallel.jinja", messages, tools=CHECK_TOOLS)
    assert text.startswith("<s>[INST] First.[/INST] Ok.</s>[AVAILABLE_TOOLS] [")
    assert "[/AVAILABLE_TOOLS][INST] You are a helpful assistant that can call tools." in text
    assert text.endswith("\n\nBe brief.\n\nSecond.[/INST]")
    assert render("mistral_parallel.jinja", messages).endswith(
        "</s>[INST] Be brief.\n\nSecond.[/INST]"
    )


def test_internlm_call_and_result() -> None:
    text = render("internlm2_tool.jinja", with_call(CALL_ARGUMENTS), tools=CHECK_TOOLS)
    body = re.search(r"<\|action_start\|><\|plugin\|>\n(\{.*?\})<\|action_end\|><\|im_end\|>", text)
    assert body is not None
    assert json.loads(body.group(1)) == {"name": "get_weather", "parameters": CALL_ARGUMENTS}
    assert "<|im_start|>environment name=<|plugin|>\nsunny<|im_end|>\n" in text
    plugin = re.search(r"<\|im_start\|>system name=<\|plugin\|>\n(.*?)<\|im_end\|>", text)
    assert plugin is not None
    assert json.loads(plugin.group(1)) == [tool["function"] for tool in CHECK_TOOLS]


def test_functionary_call_ends_with_eom() -> None:
    text = render("functionary_v3.1.jinja", with_call(CALL_ARGUMENTS), tools=CHECK_TOOLS)
    body = re.search(r"<function=get_weather>(\{.*?\})</function><\|eom_id\|>", text)
    assert body is not None and json.loads(body.group(1)) == CALL_ARGUMENTS
    assert "Use the function 'search_flights' to 'Flights between two airports.'\n{" in text
    assert "<|start_header_id|>ipython<|end_header_id|>\n\nsunny<|eot_id|>" in text


def test_minicpm3_stubs_thought_and_call() -> None:
    messages = with_call({"city": "Paris", "days": 3})
    messages[1]["thought"] = "I need the weather."
    text = render("minicpm3_tool.jinja", messages, tools=CHECK_TOOLS)
    assert 'class Unit(Enum):\n    enum_0 = "celsius"\n    enum_1 = "fahrenheit"\n' in text
    assert 'def get_weather(city, unit=None):\n    """Current weather in a city.\n' in text
    assert '        city: str = Field(..., description="City name.")\n' in text
    assert "        unit: Optional[Unit] = None\n" in text
    assert "def search_flights(origin, destination, max_stops=1):" in text
    assert (
        "<|im_start|>assistant\n<|thought_start|>\nI need the weather.\n<|thought_end|>\n"
        '<|tool_call_start|>\n```python\nget_weather(city="Paris",days=3)\n```\n'
        "<|tool_call_end|>\n<|im_end|>\n<|im_start|>tool\nsunny<|im_end|>\n"
    ) in text
    assert not text.startswith("<s>")
    # what naptha_minicpm3 returns as content (the thought) goes back where the model wrote it
    messages[1] = {**messages[1], "thought": None, "content": "I need the weather."}
    assert render("minicpm3_tool.jinja", messages, tools=CHECK_TOOLS) == text


def test_smollm2_hermes_call_and_response() -> None:
    text = render("smollm2_tool_use.jinja", with_call(CALL_ARGUMENTS), tools=CHECK_TOOLS)
    # the last one: the system prompt shows the format with placeholders first
    body = re.findall(r"<tool_call>\n(\{.*?\})\n</tool_call>", text)[-1]
    assert json.loads(body) == {"name": "get_weather", "arguments": CALL_ARGUMENTS}
    assert "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n" in text


# --- token parity with SmolLM2's official template ---------------------------------------------


def _gguf_string(fh: BinaryIO) -> str:
    (size,) = struct.unpack("<Q", fh.read(8))
    return fh.read(size).decode("utf-8")


_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _gguf_skip(fh: BinaryIO, kind: int) -> None:
    if kind == _GGUF_STRING:
        _gguf_string(fh)
    elif kind == _GGUF_ARRAY:
        item, count = struct.unpack("<IQ", fh.read(12))
        if item in _GGUF_SCALARS:
            fh.seek(_GGUF_SCALARS[item] * count, 1)
        else:
            for _ in range(count):
                _gguf_skip(fh, item)
    else:
        fh.seek(_GGUF_SCALARS[kind], 1)


def gguf_metadata_string(path: Path, key: str) -> str:
    """One string value of a GGUF (v2/v3) file's metadata."""
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF", f"{path} is not a GGUF file"
        _version, _tensors, count = struct.unpack("<IQQ", fh.read(20))
        for _ in range(count):
            name = _gguf_string(fh)
            (kind,) = struct.unpack("<I", fh.read(4))
            if name == key:
                assert kind == _GGUF_STRING, f"{key} is not a string"
                return _gguf_string(fh)
            _gguf_skip(fh, kind)
    raise KeyError(f"{key} not in {path}")


@pytest.fixture
def smollm2(monkeypatch: pytest.MonkeyPatch) -> Paths:
    """The real data dir, where `make node` prepares the embedded model before the tests."""
    monkeypatch.setenv("NAPTHA_TUI_DATA_DIR", str(REAL_DATA_DIR))
    paths = Paths.from_env()
    if not is_prepared(paths, MODEL):
        pytest.fail(
            f"model {MODEL} is not prepared in {paths.data_dir}: "
            f"run `naptha-tui model prepare {MODEL}` (or `make node`) first"
        )
    return paths


def official_smollm2_template() -> str:
    """SmolLM2-Instruct's official chat template (as the GGUF and the HF folder carry it)."""
    return (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
        "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\n' }}{% endif %}"
    )


def official_sources(paths: Paths) -> dict[str, str]:
    gguf = find_gguf(model_dir(paths, MODEL) / "package", EMBEDDED[MODEL].distribution)
    return {
        "gguf tokenizer.chat_template": gguf_metadata_string(gguf, "tokenizer.chat_template"),
        "hf chat_template.jinja": (hf_dir(paths, MODEL) / "chat_template.jinja").read_text(),
    }


CONVERSATIONS: dict[str, list[dict[str, Any]]] = {
    "system+user": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    "multi-turn": [
        {"role": "system", "content": "You answer in one sentence.\nNo lists."},
        {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Explain  tokenizers — briefly, ünïcode too. 🙂"},
        {"role": "assistant", "content": "They split text into ids.\n\nThat's it."},
        {"role": "user", "content": "Thanks"},
    ],
    "no system message": [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "Count to three."},
    ],
    "ends with the assistant": [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ],
}


def test_the_official_smollm2_template_is_the_one_in_the_model(smollm2: Paths) -> None:
    for where, text in official_sources(smollm2).items():
        assert text.strip() == official_smollm2_template(), where


@pytest.mark.parametrize("generation", [True, False], ids=["with-gen-prompt", "without"])
@pytest.mark.parametrize("conversation", list(CONVERSATIONS))
def test_smollm2_token_parity_without_tools(
    smollm2: Paths, conversation: str, generation: bool
) -> None:
    from tokenizers import Tokenizer

    folder = hf_dir(smollm2, MODEL)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    tokens = {"bos_token": config["bos_token"], "eos_token": config["eos_token"]}
    # the special tokens must be single ids, or parity would prove little
    assert len(tokenizer.encode("<|im_start|>", add_special_tokens=False).ids) == 1

    messages = CONVERSATIONS[conversation]
    ours = render_template(
        source("smollm2_tool_use.jinja"), messages, add_generation_prompt=generation, **tokens
    )
    ours_ids = tokenizer.encode(ours, add_special_tokens=False).ids
    for where, official in official_sources(smollm2).items():
        text = render_template(official, messages, add_generation_prompt=generation, **tokens)
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert ours_ids == ids, f"token ids differ from the official template ({where})"
