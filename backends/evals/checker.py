"""The leaderboard's own AST checker, imported from the install with one stand-in.

``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` imports, besides the standard library and
its own ``constants.enums``, ``constants.type_mappings`` and the Java/JavaScript type
converters, ``bfcl_eval.constants.model_config``, which imports every provider SDK (openai,
anthropic, google-genai, ...: the dependencies setup leaves out). The checker reads one thing
from it: ``MODEL_CONFIG_MAPPING[model].underscore_to_dot`` (whether to expect ``_`` for ``.``
in function names). So that one module is given a stand-in, a mapping whose every entry has
``underscore_to_dot = False``, before the checker is imported: the checker then compares
BFCL's own names, and :mod:`.decode` maps the sent names back to them.

The ``bfcl_eval`` package is loaded by location (``importlib`` with its folder as the
package's search path), so the install folder is never put on ``sys.path`` and nothing else
in it can be imported by accident.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cases import Case
from .decode import Decoded
from .setup import EvalSetupError

CHECKER = "bfcl_eval.eval_checker.ast_eval.ast_checker"
STAND_IN = "bfcl_eval.constants.model_config"
MODEL_NAME = "naptha-tui"
"""The model name the checker is given (only the stand-in reads it)."""


@dataclass(frozen=True)
class _ModelConfig:
    underscore_to_dot: bool = False


class _AnyModel(dict[str, _ModelConfig]):
    """``MODEL_CONFIG_MAPPING`` for the checker: every model name has the one config."""

    def __missing__(self, key: str) -> _ModelConfig:
        return _ModelConfig()


@dataclass(frozen=True)
class Verdict:
    """The checker's answer for one sample.

    ``valid`` is None when the case was not checked (skipped: its functions do not convert).
    """

    valid: bool | None
    reason: str = ""
    """The checker's errors as one line ("" when valid)."""
    error_type: str | None = None
    """BFCL's error type (``value_error:string``, ``simple_function_checker:missing_required``,
    ``ast_decoder:decoder_failed``, ``irrelevance_error:decoder_success``, ...)."""
    errors: list[Any] = field(default_factory=list)
    """The checker's ``error`` list as it gave it (parallel cases nest one per call)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "error_type": self.error_type,
            "errors": self.errors,
        }


def _package_dir(location: Path) -> Path:
    return (location / "bfcl_eval").resolve()


def load_checker(location: Path) -> types.ModuleType:
    """The ``ast_checker`` module of the install at ``location`` (the ``--target`` folder).

    Raises:
        EvalSetupError: the package is not there, another ``bfcl_eval`` is already imported
            from elsewhere, or the checker does not import (the message says what failed).
    """
    package_dir = _package_dir(location)
    loaded = sys.modules.get("bfcl_eval")
    if loaded is not None:
        where = [str(Path(p).resolve()) for p in getattr(loaded, "__path__", [])]
        if where != [str(package_dir)]:
            raise EvalSetupError(
                f"another bfcl_eval is already imported (from {', '.join(where) or '?'}), "
                f"not the one at {package_dir}"
            )
        if CHECKER in sys.modules:
            return sys.modules[CHECKER]
    init = package_dir / "__init__.py"
    if not init.is_file():
        raise EvalSetupError(f"no bfcl_eval package at {package_dir}: run `naptha-tui eval setup`")
    if loaded is None:
        spec = importlib.util.spec_from_file_location(
            "bfcl_eval", init, submodule_search_locations=[str(package_dir)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["bfcl_eval"] = package
        spec.loader.exec_module(package)
    stand_in = types.ModuleType(STAND_IN, "naptha-tui's stand-in: no provider SDKs")
    stand_in.MODEL_CONFIG_MAPPING = _AnyModel()  # type: ignore[attr-defined]
    sys.modules[STAND_IN] = stand_in
    try:
        return importlib.import_module(CHECKER)
    except Exception as exc:
        for name in [m for m in sys.modules if m == "bfcl_eval" or m.startswith("bfcl_eval.")]:
            del sys.modules[name]
        raise EvalSetupError(
            f"BFCL's checker ({package_dir}/eval_checker/ast_eval/ast_checker.py) does not "
            f"import with the stand-in for {STAND_IN}: {type(exc).__name__}: {exc}"
        ) from exc


def _reason(errors: list[Any]) -> str:
    """The checker's error list as one line; a parallel case's per-call errors summarised."""
    parts: list[str] = []
    for e in errors:
        if isinstance(e, dict):
            for where, detail in e.items():
                if isinstance(detail, dict):
                    subs = "; ".join(str(s) for s in detail.get("sub_error") or [])
                    kind = detail.get("sub_error_type")
                    parts.append(f"{where}: {subs}" + (f" ({kind})" if kind else ""))
                else:
                    parts.append(f"{where}: {detail}")
        else:
            parts.append(str(e))
    return " | ".join(parts)


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=repr))
    except (TypeError, ValueError):
        return repr(value)


class Checker:
    """BFCL's scoring of one single-turn case: its AST checker, its relevance rules."""

    def __init__(self, location: Path) -> None:
        self.module = load_checker(location)
        self.language = importlib.import_module("bfcl_eval.constants.enums").Language.PYTHON

    def check(self, case: Case, decoded: Decoded) -> Verdict:
        """The verdict on what came back for ``case``.

        The irrelevance categories pass when no call decodes and live_relevance when one
        does (BFCL's ``_evaluate_single_relevance_entry``); the others go through
        ``ast_checker`` with the case's function documents and possible answers, after the
        decoding checks BFCL makes first (``_evaluate_single_ast_entry``).
        """
        if case.kind == "irrelevance":
            if decoded.empty:
                return Verdict(True)
            errors = ["Valid syntax. Successfully decode AST when it should not."]
            return Verdict(False, errors[0], "irrelevance_error:decoder_success", errors)
        if case.kind == "relevance":
            if not decoded.empty:
                return Verdict(True)
            errors = [
                "Invalid syntax. Failed to decode AST when it should have. " + (decoded.error or "")
            ]
            return Verdict(False, errors[0].strip(), "relevance_error:decoder_failed", errors)
        if decoded.error is not None:
            return Verdict(False, decoded.error, decoded.error_type, [decoded.error])
        try:
            got = self.module.ast_checker(
                case.functions,
                decoded.calls,
                case.answers,
                self.language,
                case.category,
                MODEL_NAME,
            )
        except Exception as exc:  # the checker's own failure on an odd answer is a failure
            reason = f"the checker raised {type(exc).__name__}: {exc}"
            return Verdict(False, reason, "checker_error", [reason])
        errors = _jsonable(list(got.get("error") or []))
        if got.get("valid"):
            return Verdict(True)
        return Verdict(False, _reason(errors), got.get("error_type"), errors)
