"""An incremental scanner for one JSON call object: ``{"name": ..., "arguments": {...}}``.

It reads the object as it streams and reports to its :class:`StreamParser`: the call starts
when the name is complete, and the raw text of the arguments value goes out as it arrives, so
the pieces concatenate to exactly that text. Strings and nested values are skipped with one
regex search per structural character, never by rescanning: the cost is linear in the text.
When the object closes, the arguments are checked once with ``json.loads`` (an object is
required); anything off makes the scanner fail, and its owner decides what that means.

Accepted: ``name``; ``arguments`` or ``parameters`` (an object, or a string holding one, as
some models write it); other keys are skipped. Keys may come in any order: arguments that
arrive before the name are held until the name is known.
"""

from __future__ import annotations

import json
import re
from enum import Enum, auto

from .base import StreamParser

WS = " \t\r\n"
ARGS_KEYS = ("arguments", "parameters")
_STRING_STOP = re.compile(r'["\\]')
_VALUE_STOP = re.compile(r'["{}\[\]]')
_SCALAR_END = re.compile(r"[,}\s]")


class _S(Enum):
    OPEN = auto()  # before "{"
    KEY_OR_END = auto()  # after "{": a key or "}"
    KEY = auto()  # after ",": a key
    KEY_TEXT = auto()  # inside a key string
    COLON = auto()
    VALUE = auto()  # before a value
    STRING = auto()  # inside a string value (name, string arguments, skipped)
    NESTED = auto()  # inside an object/array value (arguments, skipped)
    SCALAR = auto()  # inside a number/true/false/null being skipped
    AFTER_VALUE = auto()
    DONE = auto()
    ERROR = auto()


class CallObjectScanner:
    """Scans one call object fed in pieces; reports the call to ``sink``.

    Args:
        sink: the parser whose call bookkeeping receives the name and argument pieces.
        strict_first_key: fail unless the first key is the name or the arguments (for bare
            JSON, where ``{"answer": 42}`` must stay content rather than wait to be judged).
        name: the call's name when a tag already gave it (``<function=NAME>``): then the text
            is the arguments value alone, and the scanner is done when that value closes.
    """

    def __init__(
        self, sink: StreamParser, *, strict_first_key: bool = False, name: str | None = None
    ) -> None:
        self.sink = sink
        self.strict_first_key = strict_first_key
        self.state = _S.OPEN
        self.committed = False
        """True once the call was started in ``sink`` (its name went out)."""
        self._key = ""
        self._keys_seen = 0
        self._raw: list[str] = []  # the current key or string value, undecoded
        self._escape = False
        self._in_string = False
        self._depth = 0
        self._name: str | None = None
        self._args: list[str] = []  # all argument text, for the final check
        self._held_args: list[str] = []  # argument text seen before the name
        self._string_args: str | None = None
        self._args_only = name is not None
        if name is not None:  # the name came from a tag: only the arguments value follows
            self._name, self._key, self.state = name, "arguments", _S.VALUE
            self._commit()

    @property
    def done(self) -> bool:
        return self.state is _S.DONE

    @property
    def error(self) -> bool:
        return self.state is _S.ERROR

    def feed(self, text: str, i: int) -> int:
        """Consume ``text`` from index ``i``; return where it stopped (done, failed or the end)."""
        n = len(text)
        while i < n and self.state not in (_S.DONE, _S.ERROR):
            state = self.state
            if state is _S.NESTED:
                i = self._nested(text, i)
            elif state in (_S.STRING, _S.KEY_TEXT):
                i = self._string(text, i)
            elif state is _S.SCALAR:
                m = _SCALAR_END.search(text, i)
                if m is None:
                    return n
                i = m.start()
                self.state = _S.AFTER_VALUE
            elif text[i] in WS:
                i += 1
            else:
                self._structural(text[i])
                i += 1
        return i

    # -- structure outside values

    def _structural(self, c: str) -> None:
        state = self.state
        if state is _S.OPEN:
            self.state = _S.KEY_OR_END if c == "{" else _S.ERROR
        elif state in (_S.KEY_OR_END, _S.KEY):
            if c == '"':
                self.state, self._raw = _S.KEY_TEXT, []
            elif c == "}" and state is _S.KEY_OR_END:
                self._close()
            else:
                self.state = _S.ERROR
        elif state is _S.COLON:
            self.state = _S.VALUE if c == ":" else _S.ERROR
        elif state is _S.VALUE:
            self._value_start(c)
        elif state is _S.AFTER_VALUE:
            if c == ",":
                self.state = _S.KEY
            elif c == "}":
                self._close()
            else:
                self.state = _S.ERROR

    def _value_start(self, c: str) -> None:
        key = self._key
        if key == "name":
            if c != '"' or self._name is not None:
                self.state = _S.ERROR
                return
            self.state, self._raw = _S.STRING, []
        elif key in ARGS_KEYS:
            if self._args or self._string_args is not None:
                self.state = _S.ERROR  # arguments twice
            elif c == "{":
                self.state, self._depth, self._in_string = _S.NESTED, 1, False
                self._args_piece("{")
            elif c == '"':
                self.state, self._raw = _S.STRING, []
            else:
                self.state = _S.ERROR
        elif c in "{[":
            self.state, self._depth, self._in_string = _S.NESTED, 1, False
        elif c == '"':
            self.state, self._raw = _S.STRING, []
        elif c in "]},:":
            self.state = _S.ERROR
        else:
            self.state = _S.SCALAR

    # -- strings (keys, the name, string arguments, skipped strings)

    def _string(self, text: str, i: int) -> int:
        n = len(text)
        keep = self.state is _S.KEY_TEXT or self._key == "name" or self._key in ARGS_KEYS
        while i < n:
            if self._escape:
                self._escape = False
                if keep:
                    self._raw.append(text[i])
                i += 1
                continue
            m = _STRING_STOP.search(text, i)
            if m is None:
                if keep:
                    self._raw.append(text[i:])
                return n
            j = m.start()
            if keep:
                self._raw.append(text[i : j + 1] if text[j] == "\\" else text[i:j])
            if text[j] == "\\":
                self._escape = True
                i = j + 1
                continue
            self._string_done()
            return j + 1
        return i

    def _decode_raw(self) -> str | None:
        try:
            value = json.loads('"' + "".join(self._raw) + '"')
        except ValueError:
            return None
        return value if isinstance(value, str) else None

    def _string_done(self) -> None:
        value = self._decode_raw()
        if value is None:
            self.state = _S.ERROR
            return
        if self.state is _S.KEY_TEXT:
            first = self._keys_seen == 0
            self._keys_seen += 1
            if first and self.strict_first_key and value not in ("name", *ARGS_KEYS):
                self.state = _S.ERROR
                return
            self._key, self.state = value, _S.COLON
            return
        self.state = _S.AFTER_VALUE
        if self._key == "name":
            if not value:
                self.state = _S.ERROR
                return
            self._name = value
            self._commit()
        elif self._key in ARGS_KEYS:
            self._string_args = value
            self._args_piece(value)
            if self._args_only:
                self._close()

    # -- nested values (the arguments object, or a skipped object/array)

    def _nested(self, text: str, i: int) -> int:
        n = len(text)
        start = i
        args = self._key in ARGS_KEYS
        while i < n:
            if self._escape:
                self._escape = False
                i += 1
                continue
            m = (_STRING_STOP if self._in_string else _VALUE_STOP).search(text, i)
            if m is None:
                i = n
                break
            j, c = m.start(), text[m.start()]
            i = j + 1
            if self._in_string:
                if c == "\\":
                    self._escape = True
                else:
                    self._in_string = False
            elif c == '"':
                self._in_string = True
            elif c in "{[":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    self.state = _S.AFTER_VALUE
                    break
        if args and i > start:
            self._args_piece(text[start:i])
        if self._args_only and self.state is _S.AFTER_VALUE:
            self._close()
        return i

    # -- reporting to the sink

    def _args_piece(self, piece: str) -> None:
        self._args.append(piece)
        if self.committed:
            self.sink._args(piece)
        else:
            self._held_args.append(piece)

    def _commit(self) -> None:
        assert self._name is not None
        self.sink._start_call(self._name)
        self.committed = True
        self.sink._args("".join(self._held_args))  # one piece: held pieces may be many
        self._held_args = []

    def _close(self) -> None:
        if self._name is None:
            self.state = _S.ERROR
            return
        if not self._args:
            self._args_piece("{}")
        text = self._string_args if self._string_args is not None else "".join(self._args)
        try:
            valid = isinstance(json.loads(text), dict)
        except (ValueError, RecursionError):  # nesting too deep for json: no call either
            valid = False
        if not valid:
            self.state = _S.ERROR
            return
        self.sink._end_call()
        self.state = _S.DONE
