"""YAML files whose validation errors name the file, the line and the key.

pydantic reports *where* in the data a value is wrong (a ``loc`` tuple); PyYAML's node tree
knows *where in the file* each key sits. Joining the two gives messages such as
``presets/x.yaml:7: max_num_seqs: Input should be a valid integer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from naptha_tui.backends.errors import NapthaError

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(NapthaError, ValueError):
    """A config or preset file that cannot be used; ``str()`` names file, line and key."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}{p}" for p in self.problems))


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML mapping plus its node tree, for line numbers."""

    path: Path
    data: dict[str, Any]
    root: yaml.Node | None

    def line_of(self, loc: Sequence[int | str]) -> int | None:
        """1-based line of the deepest node along ``loc`` that exists in the file."""
        node, line = self.root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next(
                    ((k, v) for k, v in node.value if getattr(k, "value", None) == part), None
                )
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        if line is None and self.root is not None:
            line = self.root.start_mark.line + 1
        return line


def load_yaml(path: Path) -> YamlDoc:
    """Parse ``path`` as a YAML mapping (an empty file is an empty mapping).

    Raises:
        ConfigFileError: unreadable file, invalid YAML (with its line), or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(path, [f": cannot read: {exc.strerror}"]) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(path, [f"{where}: invalid YAML: {problem}"]) from exc
    if data is None:
        return YamlDoc(path, {}, root)
    if not isinstance(data, dict):
        raise ConfigFileError(path, [f": expected a mapping of keys, got {type(data).__name__}"])
    return YamlDoc(path, data, root)


def validation_problems(doc: YamlDoc, error: ValidationError) -> list[str]:
    """One ``:LINE: key.path: message`` string per pydantic error."""
    problems = []
    for item in error.errors():
        loc = [p for p in item["loc"] if isinstance(p, int | str)]
        key = ".".join(str(p) for p in loc) or "(file)"
        line = doc.line_of(loc)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif not loc and item["type"] == "value_error":
            # a model-level check names its key as "key: message"
            key, _, rest = str(item.get("ctx", {}).get("error", message)).partition(": ")
            if rest and key.isidentifier():
                line = doc.line_of([key])
                problems.append(f"{f':{line}' if line else ''}: {key}: {rest}")
                continue
        problems.append(f"{f':{line}' if line else ''}: {key}: {message}")
    return problems


def parse_model(doc: YamlDoc, model: type[M], **extra: Any) -> M:
    """Validate ``doc`` into ``model``; errors become a ConfigFileError naming each key."""
    try:
        return model.model_validate({**doc.data, **extra})
    except ValidationError as exc:
        raise ConfigFileError(doc.path, validation_problems(doc, exc)) from exc
