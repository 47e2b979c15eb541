"""The syntax tree of an Alloy configuration file.

Shared by the offline checker (`fleetui check`, the enrollment engine's pre-flight check) and the lab's
Alloy stand-in, which evaluates it. Positions are 1-based line and byte column, as Alloy reports them.
`end` (where present) is the position of the closing bracket; the printer uses start and end lines to keep the
author's line layout, as `alloy fmt` does. It defaults to None for trees built by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    line: int
    col: int


# --- expressions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A number (int or float), string, bool or null (`None`). `raw` is the source text of the token."""

    value: int | float | str | bool | None
    raw: str
    pos: Pos


@dataclass(frozen=True)
class Ident:
    name: str
    pos: Pos


@dataclass(frozen=True)
class Array:
    elements: tuple[Expr, ...]
    pos: Pos
    end: Pos | None = None


@dataclass(frozen=True)
class ObjectField:
    key: str
    quoted: bool  # `"key" = v` vs `key = v`
    value: Expr
    pos: Pos


@dataclass(frozen=True)
class Object:
    fields: tuple[ObjectField, ...]
    pos: Pos
    end: Pos | None = None


@dataclass(frozen=True)
class Access:
    """`value.name`"""

    value: Expr
    name: str
    pos: Pos


@dataclass(frozen=True)
class Index:
    """`value[index]`"""

    value: Expr
    index: Expr
    pos: Pos
    end: Pos | None = None


@dataclass(frozen=True)
class Call:
    func: Expr
    args: tuple[Expr, ...]
    pos: Pos
    end: Pos | None = None


@dataclass(frozen=True)
class Unary:
    op: str  # "!" or "-"
    value: Expr
    pos: Pos


@dataclass(frozen=True)
class Binary:
    op: str  # || && == != < <= > >= + - * / % ^
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True)
class Paren:
    inner: Expr
    pos: Pos
    end: Pos | None = None


Expr = Literal | Ident | Array | Object | Access | Index | Call | Unary | Binary | Paren


# --- statements ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Expr
    pos: Pos


@dataclass(frozen=True)
class Block:
    """`a.b.c "label" { body }`: `name` is the dotted name's parts, `label` None when absent."""

    name: tuple[str, ...]
    label: str | None
    body: tuple[Stmt, ...]
    pos: Pos
    end: Pos | None = None

    @property
    def full_name(self) -> str:
        return ".".join(self.name)


Stmt = Attribute | Block


@dataclass(frozen=True)
class Comment:
    """A `// line` or `/* block */` comment, text as written (carriage returns removed)."""

    text: str
    pos: Pos


@dataclass(frozen=True)
class File:
    name: str
    body: tuple[Stmt, ...] = field(default=())
    comments: tuple[Comment, ...] = field(default=())
