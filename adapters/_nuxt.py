"""Nuxt page state, read without running JavaScript (`adapters.base.nuxt_state` is the entry).

Nuxt 2 writes `window.__NUXT__=` followed by devalue 2's output (github.com/Rich-Harris/devalue,
`src/index.ts` before 3.0): either a plain object literal, or, when values repeat, an
immediately called function whose parameters hold the repeated values:

    (function(a,b,c){a.x=b;a[0]=c;return {data:[{title:a}],state:{n:b}}}("x",1,Array(2)))

The arguments are JavaScript literals (strings with escapes such as `\\u003C`, numbers like
`.5` and `-0`, `void 0`, `Array(n)`, `new Set`, `new Map`, `{}`, `Object.create(null)`,
`new Date(ms)`); statements before the `return` fill the repeated objects (`a.k=v`, `a["k"]=v`,
`a[0]=v`, `a.add(v)`, `a.set(k, v)`). This module parses that subset and binds the names.

Nuxt 3 writes `<script type="application/json" id="__NUXT_DATA__">`: devalue's `stringify`
form, a flat JSON array whose entry 0 is the root; numbers inside arrays and objects are
indices into the array, negative ones stand for undefined (-1), a hole (-2), NaN (-3),
+Infinity (-4), -Infinity (-5) and -0 (-6); `["Date", iso]`, `["Set", ...]`, `["Map", k, v, ...]`,
`["RegExp", src, flags]`, `["Object", v]`, `["BigInt", s]`, `["null", k, v, ...]` are special
types, and Nuxt adds its reducers `["Reactive", i]`, `["ShallowReactive", i]`, `["Ref", i]`,
`["ShallowRef", i]`, `["EmptyRef", s]`, `["EmptyShallowRef", s]`, `["NuxtError", i]`.
Sets come back as lists, Maps as dicts, dates as ISO strings, undefined as None.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

_NUXT2 = re.compile(r"window\.__NUXT__\s*=\s*")
_NUXT3 = re.compile(
    r"<script\b[^>]*\bid=[\"']__NUXT_DATA__[\"'][^>]*>(?P<body>.*?)</script>", re.S | re.I
)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
# Nuxt 3's reducers that wrap one value (vue refs and reactive objects, errors, islands).
_WRAPPERS = {"Reactive", "ShallowReactive", "Ref", "ShallowRef", "NuxtError", "Island"}


class NuxtStateError(ValueError):
    """The state is not in a form this reader understands."""


# What a hostile or broken state makes the readers raise (bad escapes, huge numbers, dates
# beyond the calendar, references out of range): the page then has no readable state.
_UNREADABLE = (NuxtStateError, RecursionError, ValueError, TypeError, IndexError, KeyError,
               OverflowError, OSError)


def nuxt_state(html: str) -> Any | None:
    """The page's Nuxt state (Nuxt 3 `__NUXT_DATA__` first, then Nuxt 2 `window.__NUXT__`),
    or None when the page has none or it cannot be read."""
    return nuxt_state_with_kind(html)[1]


def nuxt_state_with_kind(html: str) -> tuple[str | None, Any | None]:
    """("nuxt3" or "nuxt2", the state) as `nuxt_state` reads it; (None, None) for none."""
    found = _NUXT3.search(html)
    if found:
        try:
            return "nuxt3", unflatten(json.loads(found.group("body")))
        except _UNREADABLE:
            pass
    state = _nuxt2_state(html)
    return ("nuxt2", state) if state is not None else (None, None)


def _nuxt2_state(html: str) -> Any | None:
    # A Nuxt 3 page also says `window.__NUXT__={};window.__NUXT__.config=...`: an empty
    # stub is only the answer when no assignment holds more.
    stub: Any | None = None
    for match in _NUXT2.finditer(html):
        try:
            value = parse_js_value(html, match.end())
        except _UNREADABLE:
            continue
        if value or value is False or value == 0:
            return value
        stub = value if stub is None else stub
    return stub


# -- Nuxt 3: devalue.stringify's flattened array ------------------------------------------------


def unflatten(values: Any) -> Any:
    """Revive devalue's flattened form (as `devalue.unflatten` does, with Nuxt's revivers)."""
    if isinstance(values, int) and not isinstance(values, bool):
        return _special(values)
    if not isinstance(values, list) or not values:
        raise NuxtStateError("not a devalue array")
    done: dict[int, Any] = {}

    def hydrate(index: Any) -> Any:
        if not isinstance(index, int) or isinstance(index, bool):
            raise NuxtStateError(f"not an index: {index!r}")
        if index < 0:
            return _special(index)
        if index in done:
            return done[index]
        if index >= len(values):
            raise NuxtStateError(f"index {index} out of range")
        value = values[index]
        if isinstance(value, list):
            if value and isinstance(value[0], str):
                return _typed(index, value)
            out: list[Any] = []
            done[index] = out
            out.extend(None if n == -2 else hydrate(n) for n in value)
            return out
        if isinstance(value, dict):
            obj: dict[str, Any] = {}
            done[index] = obj
            for key, n in value.items():
                obj[key] = hydrate(n)
            return obj
        done[index] = value
        return value

    def _typed(index: int, value: list[Any]) -> Any:
        kind = value[0]
        if kind in _WRAPPERS:
            done[index] = result = hydrate(value[1])
            return result
        if kind in ("EmptyRef", "EmptyShallowRef"):
            raw = hydrate(value[1])
            try:
                result = None if raw == "_" else json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                result = raw
            done[index] = result
            return result
        if kind == "Date":
            done[index] = value[1]
        elif kind == "Set":
            items: list[Any] = []
            done[index] = items
            items.extend(hydrate(n) for n in value[1:])
        elif kind in ("Map", "null"):
            mapping: dict[Any, Any] = {}
            done[index] = mapping
            for i in range(1, len(value) - 1, 2):
                key = hydrate(value[i]) if kind == "Map" else value[i]
                mapping[_hashable(key)] = hydrate(value[i + 1])
        elif kind == "RegExp":
            done[index] = value[1]
        elif kind in ("Object", "BigInt"):
            done[index] = int(value[1]) if kind == "BigInt" else value[1]
        else:
            raise NuxtStateError(f"unknown devalue type {kind!r}")
        return done[index]

    return hydrate(0)


def _special(index: int) -> Any:
    specials = {-1: None, -2: None, -3: math.nan, -4: math.inf, -5: -math.inf, -6: -0.0}
    if index not in specials:
        raise NuxtStateError(f"unknown special value {index}")
    return specials[index]


def _hashable(key: Any) -> Any:
    return key if isinstance(key, str | int | float | bool) or key is None else json.dumps(
        key, sort_keys=True, default=str)


# -- Nuxt 2: a JavaScript expression (devalue 2 output) ----------------------------------------


def parse_js_value(text: str, pos: int = 0) -> Any:
    """The value of the JavaScript expression at `text[pos:]` (the devalue 2 subset)."""
    return _Js(text, pos).expression({})


class _Js:
    def __init__(self, text: str, pos: int):
        self.text, self.pos = text, pos

    # -- lexing ---------------------------------------------------------------------------------

    def ws(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            if text[self.pos].isspace():
                self.pos += 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                self.pos = n if end < 0 else end + 2
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            else:
                return

    def peek(self, token: str) -> bool:
        self.ws()
        return self.text.startswith(token, self.pos)

    def eat(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.eat(token):
            got = self.text[self.pos:self.pos + 20]
            raise NuxtStateError(f"expected {token!r} at {self.pos}, got {got!r}")

    def ident(self) -> str | None:
        self.ws()
        found = _IDENT.match(self.text, self.pos)
        if not found:
            return None
        self.pos = found.end()
        return found.group()

    def keyword(self, word: str) -> bool:
        self.ws()
        found = _IDENT.match(self.text, self.pos)
        if found and found.group() == word:
            self.pos = found.end()
            return True
        return False

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise NuxtStateError("unterminated string")
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(out)
            if char != "\\":
                out.append(char)
                self.pos += 1
                continue
            code = text[self.pos + 1:self.pos + 2]
            self.pos += 2
            if code in _SIMPLE_ESCAPES and not (code == "0" and text[self.pos:self.pos + 1]
                                                .isdecimal()):
                out.append(_SIMPLE_ESCAPES[code])
            elif code == "x":
                out.append(chr(int(text[self.pos:self.pos + 2], 16)))
                self.pos += 2
            elif code == "u":
                if text.startswith("{", self.pos):
                    end = text.index("}", self.pos)
                    out.append(chr(int(text[self.pos + 1:end], 16)))
                    self.pos = end + 1
                else:
                    out.append(chr(int(text[self.pos:self.pos + 4], 16)))
                    self.pos += 4
            elif code in ("\n", "\u2028", "\u2029"):
                pass  # a line continuation
            elif code == "\r":
                if text.startswith("\n", self.pos):
                    self.pos += 1
            else:
                out.append(code)
        # surrogate pairs written as two \\u escapes are joined by the caller's encode step

    # -- expressions ----------------------------------------------------------------------------

    def expression(self, scope: dict[str, Any]) -> Any:
        self.ws()
        if self.pos >= len(self.text):
            raise NuxtStateError("unexpected end")
        char = self.text[self.pos]
        if char in "\"'":
            return _join_surrogates(self.string())
        if char == "[":
            return self.array(scope)
        if char == "{":
            return self.obj(scope)
        if char == "(":
            self.pos += 1
            value = self.call(scope) if self.peek("function") else self.expression(scope)
            self.expect(")")
            return self.maybe_call_after_paren(value, scope)
        if char == "/":
            return self.regex()
        if char == "-" and self.text.startswith("-Infinity", self.pos):
            self.pos += len("-Infinity")
            return -math.inf
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            raw = number.group()
            if "x" in raw or "X" in raw:
                return int(raw, 16)
            value = float(raw)
            return int(value) if value.is_integer() and not re.search(r"[.eE]", raw) and \
                raw != "-0" else value
        name = self.ident()
        if name is None:
            raise NuxtStateError(f"unexpected {self.text[self.pos:self.pos + 20]!r}")
        return self.named(name, scope)

    def named(self, name: str, scope: dict[str, Any]) -> Any:
        constants = {"true": True, "false": False, "null": None, "undefined": None,
                     "NaN": math.nan, "Infinity": math.inf}
        if name in scope:
            return scope[name]
        if name in constants:
            return constants[name]
        if name == "void":
            self.expression(scope)
            return None
        if name == "function":
            raise NuxtStateError("a function where a value was expected")
        if name == "new":
            kind = self.ident()
            args = self.arguments(scope) if self.peek("(") else []
            if kind == "Date":
                ms = args[0] if args else 0
                if isinstance(ms, int | float):
                    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace(
                        "+00:00", "Z")
                return ms
            if kind == "Set":
                return list(args[0]) if args and args[0] is not None else []
            if kind == "Map":
                pairs = args[0] if args and args[0] is not None else []
                return {_hashable(k): v for k, v in pairs}
            if kind == "Array":
                return [None] * _length(args[0]) if args else []
            raise NuxtStateError(f"new {kind} is not a value this reader knows")
        if name == "Array" and self.peek("("):
            args = self.arguments(scope)
            return [None] * _length(args[0]) if len(args) == 1 and isinstance(args[0], int) \
                else list(args)
        if name == "Object":
            if self.eat("."):
                method = self.ident()
                args = self.arguments(scope)
                if method == "create":
                    return {}
                if method == "assign":
                    target = args[0] if args and isinstance(args[0], dict) else {}
                    for extra in args[1:]:
                        if isinstance(extra, dict):
                            target.update(extra)
                    return target
                if method == "freeze":
                    return args[0] if args else None
                raise NuxtStateError(f"Object.{method} is not a value this reader knows")
            args = self.arguments(scope)
            return args[0] if args else {}
        raise NuxtStateError(f"unknown name {name!r}")

    def arguments(self, scope: dict[str, Any]) -> list[Any]:
        self.expect("(")
        args: list[Any] = []
        while not self.eat(")"):
            args.append(self.expression(scope))
            if not self.eat(","):
                self.expect(")")
                break
        return args

    def array(self, scope: dict[str, Any]) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while True:
            if self.eat("]"):
                return items
            if self.peek(","):  # a hole
                self.pos += 1
                items.append(None)
                continue
            items.append(self.expression(scope))
            if not self.eat(","):
                self.expect("]")
                return items

    def obj(self, scope: dict[str, Any]) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        while not self.eat("}"):
            self.ws()
            char = self.text[self.pos:self.pos + 1]
            if char in ("\"", "'"):
                key = _join_surrogates(self.string())
            else:
                number = _NUMBER.match(self.text, self.pos)
                if number and char != "-":
                    self.pos = number.end()
                    key = number.group()
                else:
                    name = self.ident()
                    if name is None:
                        raise NuxtStateError(f"bad object key at {self.pos}")
                    key = name
                    if self.peek(",") or self.peek("}"):  # shorthand {a}
                        out[key] = self.named(key, scope)
                        self.eat(",")
                        continue
            self.expect(":")
            out[key] = self.expression(scope)
            if not self.eat(","):
                self.expect("}")
                break
        return out

    def regex(self) -> str:
        start = self.pos
        self.pos += 1
        in_class = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == "[":
                in_class = True
            elif char == "]":
                in_class = False
            elif char == "/" and not in_class:
                self.pos += 1
                flags = _IDENT.match(self.text, self.pos)
                if flags:
                    self.pos = flags.end()
                return self.text[start:self.pos]
            self.pos += 1
        raise NuxtStateError("unterminated regular expression")

    # -- the IIFE ---------------------------------------------------------------------------------

    def call(self, scope: dict[str, Any]) -> Any:
        """`function(a,b){statements;return expr}(args)` (the opening `(` already eaten), or
        `function(...){...})(args)`: the closing paren is left for the caller then."""
        self.expect("function")
        params: list[str] = []
        self.expect("(")
        while not self.eat(")"):
            name = self.ident()
            if name is None:
                raise NuxtStateError("bad parameter list")
            params.append(name)
            self.eat(",")
        self.expect("{")
        body_start = self.pos
        self.skip_block()
        body_end = self.pos - 1  # at the closing brace
        if self.peek("("):
            args = self.arguments(scope)
            return self.run(params, args, body_start, body_end, scope)
        # `(function(){...})(args)`: the caller sees `)` then calls us back.
        self.pending = (params, body_start, body_end)
        return _PENDING

    def maybe_call_after_paren(self, value: Any, scope: dict[str, Any]) -> Any:
        if value is _PENDING:
            params, body_start, body_end = self.pending
            args = self.arguments(scope)
            return self.run(params, args, body_start, body_end, scope)
        return value

    def skip_block(self) -> None:
        """Move past the `}` that closes the block just opened (strings and regexes aside)."""
        depth = 1
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in "\"'":
                self.string()
                continue
            self.pos += 1
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return
        raise NuxtStateError("unterminated function body")

    def run(self, params: list[str], args: list[Any], start: int, end: int,
            outer: dict[str, Any]) -> Any:
        scope = dict(outer)
        for index, name in enumerate(params):
            scope[name] = args[index] if index < len(args) else None
        resume = self.pos
        self.pos = start
        result: Any = None
        while self.pos < end:
            if self.eat(";"):
                continue
            if self.keyword("return"):
                result = self.expression(scope)
                break
            self.statement(scope)
        self.pos = resume
        return result

    def statement(self, scope: dict[str, Any]) -> None:
        """`a.k=v`, `a["k"]=v`, `a[0]=v`, `a.b.c=v`, `a.add(v).add(w)`, `a.set(k, v)`."""
        name = self.ident()
        if name is None or name not in scope:
            raise NuxtStateError(f"unknown statement at {self.pos}")
        target: Any = scope[name]
        key: Any = None
        while True:
            if self.eat("."):
                prop = self.ident()
                if prop in ("add", "set", "push") and self.peek("("):
                    args = self.arguments(scope)
                    holder = target if key is None else _get(target, key)
                    if prop in ("add", "push") and isinstance(holder, list):
                        holder.extend(args[:1] if prop == "add" else args)
                    elif prop == "set" and isinstance(holder, dict) and len(args) == 2:
                        holder[_hashable(args[0])] = args[1]
                    else:
                        raise NuxtStateError(f".{prop}() on {type(holder).__name__}")
                    target, key = holder, None
                    continue
                if key is not None:
                    target = _get(target, key)
                key = prop
            elif self.eat("["):
                if key is not None:
                    target = _get(target, key)
                key = self.expression(scope)
                self.expect("]")
            else:
                break
        if key is None:
            return  # a bare call chain
        self.expect("=")
        _put(target, key, self.expression(scope))


_PENDING = object()
#: More items than any page state holds: `Array(1e12)` or `a[99999999999]=1` is hostile.
_MAX_ITEMS = 1_000_000


def _length(value: Any) -> int:
    """A list length or index as written, refused when negative, fractional or huge."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise NuxtStateError(f"not a length: {value!r}")
    if not 0 <= value <= _MAX_ITEMS or value != int(value):
        raise NuxtStateError(f"a length out of range: {value!r}")
    return int(value)


def _get(target: Any, key: Any) -> Any:
    if isinstance(target, list) and isinstance(key, int | float):
        index = _length(key)
        return target[index] if index < len(target) else None
    if isinstance(target, dict):
        return target.get(str(key) if not isinstance(key, str) else key)
    raise NuxtStateError(f"cannot read {key!r} of {type(target).__name__}")


def _put(target: Any, key: Any, value: Any) -> None:
    if isinstance(target, list) and isinstance(key, int | float):
        index = _length(key)
        if index >= len(target):
            target.extend([None] * (index + 1 - len(target)))
        target[index] = value
    elif isinstance(target, dict):
        target[key if isinstance(key, str) else str(key)] = value
    else:
        raise NuxtStateError(f"cannot set {key!r} on {type(target).__name__}")


def _join_surrogates(text: str) -> str:
    """Strings built from `\\uD83D\\uDE00` escapes hold two surrogates; make them one."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


__all__ = ["nuxt_state", "parse_js_value", "unflatten", "NuxtStateError"]
