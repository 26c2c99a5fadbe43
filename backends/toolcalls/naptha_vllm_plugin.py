"""vLLM adapter for naptha-tui's tool-call parsers: ``--tool-parser-plugin <this file>``.

vLLM imports this file by path inside its own environment, where naptha-tui is not installed;
so the parsing core beside it (this folder, pure Python, no vLLM import) is loaded as a
package of its own. The adapter is thin: it turns the core's calls and deltas into vLLM's
protocol objects. It registers one parser name per format (``naptha_hermes``,
``naptha_functionary``, ``naptha_minicpm3``, ``naptha_json``).

vLLM moved its ToolParser API more than once (REFERENCE.md §4.4); the imports below try the
current locations first, then older ones. The constructor passes through whatever vLLM gives
(``tokenizer`` alone in old versions, ``tokenizer, tools`` now).

Streaming feeds only ``delta_text`` to the core, never rescanning ``current_text``: the cost
of a whole stream is linear in its length. vLLM gives a tool parser no end-of-stream call, so
the machines hold back as little as possible (a partial tag, or leading JSON until its first
key says whether it is a call).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any


def _first(*modules: str) -> Any:
    """The first of ``modules`` this vLLM has: newest location first."""
    for name in modules:
        try:
            return importlib.import_module(name)
        except ImportError:  # pragma: no cover - an older vLLM
            continue
    raise ImportError(f"this vLLM has none of {', '.join(modules)}")


_parsers = _first(
    "vllm.tool_parsers.abstract_tool_parser",  # vLLM >= ~0.18
    "vllm.tool_parsers",  # ~0.13 to 0.17
    "vllm.entrypoints.openai.tool_parsers.abstract_tool_parser",  # <= 0.12
)
ToolParser: Any = _parsers.ToolParser
ToolParserManager: Any = _parsers.ToolParserManager
_protocol = _first("vllm.entrypoints.generate.base.protocol", "vllm.entrypoints.openai.protocol")
DeltaFunctionCall, DeltaMessage, DeltaToolCall = (
    _protocol.DeltaFunctionCall,
    _protocol.DeltaMessage,
    _protocol.DeltaToolCall,
)
ExtractedToolCallInformation, FunctionCall, ToolCall = (
    _protocol.ExtractedToolCallInformation,
    _protocol.FunctionCall,
    _protocol.ToolCall,
)

log = logging.getLogger("naptha_tui.tool_parsers")
CORE_PACKAGE = "naptha_toolcalls_core"


def _load_core() -> Any:
    """The parsing core: this file's own package, or (loaded by path) the folder beside it."""
    if __package__:
        return sys.modules[__package__]
    if CORE_PACKAGE in sys.modules:
        return sys.modules[CORE_PACKAGE]
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        CORE_PACKAGE, here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[CORE_PACKAGE] = module
    spec.loader.exec_module(module)
    return module


core = _load_core()


class NapthaToolParser(ToolParser):  # type: ignore[misc]
    """One of the core's formats behind vLLM's ToolParser interface."""

    format_name = ""

    def __init__(self, tokenizer: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, *args, **kwargs)
        self._machine: Any = None
        self._pieces: list[list[str]] = []  # argument pieces per call, joined once per call
        self._complete = 0

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        if getattr(request, "tools", None) and getattr(request, "tool_choice", None) != "none":
            # the formats' tags are special tokens in some vocabularies: keep them in the text
            request.skip_special_tokens = False
        return request

    def extract_tool_calls(self, model_output: str, request: Any) -> Any:
        parsed = core.parse(self.format_name, model_output)
        calls = [
            ToolCall(
                id=c.id, type="function", function=FunctionCall(name=c.name, arguments=c.arguments)
            )
            for c in parsed.calls
        ]
        return ExtractedToolCallInformation(
            tools_called=bool(calls), tool_calls=calls, content=parsed.content
        )

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Any,
        current_token_ids: Any,
        delta_token_ids: Any,
        request: Any,
    ) -> Any:
        if self._machine is None:
            self._machine = core.stream(self.format_name)
        delta = self._machine.feed(delta_text)
        if not delta:
            return None
        tool_calls = []
        for piece in delta.calls:
            self._remember(piece)
            # only the fields a piece has: vLLM serializes chunks with exclude_unset
            function = {"name": piece.name} if piece.name else {}
            if piece.arguments:
                function["arguments"] = piece.arguments
            if piece.id:
                call = DeltaToolCall(
                    index=piece.index,
                    id=piece.id,
                    type="function",
                    function=DeltaFunctionCall(**function),
                )
            else:
                call = DeltaToolCall(index=piece.index, function=DeltaFunctionCall(**function))
            tool_calls.append(call)
        if len(self._machine.calls) != self._complete:  # a call just completed
            self._complete = len(self._machine.calls)
            self._sync()
        if delta.content:
            return DeltaMessage(content=delta.content, tool_calls=tool_calls)
        return DeltaMessage(tool_calls=tool_calls)

    def get_remaining_unstreamed_args(self) -> str:
        """Nothing: every argument piece the core parsed went out in a delta already."""
        return ""

    def _remember(self, piece: Any) -> None:
        """Keep vLLM's bookkeeping fields (``prev_tool_call_arr``, ``streamed_args_for_tool``).

        Older vLLM versions read them when a stream finishes. A call's pieces are joined when
        the call completes or the next one starts, not per piece: ``+=`` on a string held in
        a list or dict copies it every time, which would make a long call quadratic.
        """
        if piece.id is not None:
            self._sync()
            self.current_tool_id = piece.index
            self.prev_tool_call_arr.append({"name": piece.name, "arguments": ""})
            self.streamed_args_for_tool.append("")
            self._pieces.append([])
        if piece.arguments and self._pieces:
            self._pieces[-1].append(piece.arguments)

    def _sync(self) -> None:
        if self._pieces:
            text = "".join(self._pieces[-1])
            self.streamed_args_for_tool[-1] = text
            self.prev_tool_call_arr[-1]["arguments"] = text


def _register() -> list[str]:
    names = []
    for name in core.FORMATS:
        cls = type(f"NapthaToolParser_{name}", (NapthaToolParser,), {"format_name": name})
        ToolParserManager.register_module(name=name, module=cls)
        names.append(name)
    return names


REGISTERED = _register()
