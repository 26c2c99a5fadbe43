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
from naptha_tui.backends.files import UnreadableFile, read_text_file

M = TypeVar("M", bound=BaseModel)


FILE_KEY = "(file)"
"""The key of a problem with the whole document rather than one key in it."""


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong with a config or preset file: where it is and what is wrong.

    ``str()`` gives ``FILE:LINE: KEY: MESSAGE``, leaving out the line or the key when there is
    none (``x.yaml: cannot read: Permission denied``, ``x.yaml:3: invalid YAML: ...``).
    """

    file: Path
    line: int | None
    """1-based line in ``file``, when known."""
    key: str | None
    """The dotted key path (``proxy.port``, ``tools.temperature.1``); None for problems with
    the file itself (unreadable, invalid YAML, not a mapping)."""
    message: str

    def __str__(self) -> str:
        where = f":{self.line}" if self.line else ""
        key = f": {self.key}" if self.key is not None else ""
        return f"{self.file}{where}{key}: {self.message}"


class ConfigFileError(NapthaError, ValueError):
    """A config or preset file that cannot be used; ``str()`` names file, line and key.

    ``problems`` are in file order: by file as first named, then by line (file-level ones first).
    """

    def __init__(self, path: Path, problems: Sequence[FileProblem]) -> None:
        """An error for ``path`` (the file that failed to load) listing every problem found.

        Args:
            path: the file that did not load.
            problems: at least one; each names its own file (a preset's profile may be another).
        """
        if not problems:
            raise ValueError(f"ConfigFileError for {path} needs at least one problem")
        self.path = path
        files = list(dict.fromkeys(p.file for p in problems))
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


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
        ConfigFileError: unreadable file (missing, a directory, binary, not UTF-8, too big:
            see :func:`~naptha_tui.backends.files.read_text_file`), invalid YAML (with its
            line), or not a mapping.
    """
    try:
        text = read_text_file(path, allow_empty=True)
    except UnreadableFile as exc:
        problem = FileProblem(path, None, None, f"cannot read: {exc.reason}")
        raise ConfigFileError(path, [problem]) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        problem = FileProblem(path, line, None, f"invalid YAML: {what}")
        raise ConfigFileError(path, [problem]) from exc
    if data is None:
        return YamlDoc(path, {}, root)
    if not isinstance(data, dict):
        what = f"expected a mapping of keys, got {type(data).__name__}"
        raise ConfigFileError(path, [FileProblem(path, None, None, what)])
    return YamlDoc(path, data, root)


def validation_problems(doc: YamlDoc, error: ValidationError) -> list[FileProblem]:
    """One problem per pydantic error, with the line of its key in ``doc``'s file.

    Args:
        doc: the parsed file the validated data came from.
        error: pydantic's error for that data.

    Returns:
        Problems in pydantic's order. A key the file does not have (a missing required one, or
        one set by the environment) gets the line of the deepest part of its path the file has,
        else the document's first line, else (no file at all) no line.
    """
    problems = []
    for item in error.errors():
        loc = [p for p in item["loc"] if isinstance(p, int | str)]
        key = ".".join(str(p) for p in loc) or FILE_KEY
        line = doc.line_of(loc)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif not loc and item["type"] == "value_error":
            # a model-level check names its key as "key: message"
            named, _, rest = str(item.get("ctx", {}).get("error", message)).partition(": ")
            if rest and named.isidentifier():
                key, line, message = named, doc.line_of([named]), rest
        problems.append(FileProblem(doc.path, line, key, message))
    return problems


def parse_model(
    doc: YamlDoc, model: type[M], *, problems: Sequence[FileProblem] = (), **extra: Any
) -> M:
    """Validate ``doc`` into ``model``; every problem becomes part of one ConfigFileError.

    Args:
        doc: the parsed file.
        model: the pydantic model to build.
        problems: problems the caller found before validation (a forbidden key, an unknown
            profile); they are reported together with pydantic's, never instead of them.
        **extra: values that override the file's (a preset's ``name`` is its file's stem).

    Raises:
        ConfigFileError: ``problems`` is not empty or validation fails; it lists all of them.
    """
    found = list(problems)
    try:
        result = model.model_validate({**doc.data, **extra})
    except ValidationError as exc:
        found += validation_problems(doc, exc)
        raise ConfigFileError(doc.path, found) from exc
    if found:
        raise ConfigFileError(doc.path, found)
    return result
