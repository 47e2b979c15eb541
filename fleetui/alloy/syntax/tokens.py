"""Token kinds of the Alloy configuration syntax, named exactly as Alloy's `syntax/token` prints them.

Using the printed names as the token values means an error such as `expected TERMINATOR, got IDENT` or
`expected }, got EOF` is produced by plain string formatting, the same text `alloy fmt` shows.
"""

from __future__ import annotations

from typing import Final

ILLEGAL: Final = "ILLEGAL"
EOF: Final = "EOF"
COMMENT: Final = "COMMENT"
IDENT: Final = "IDENT"
NUMBER: Final = "NUMBER"
FLOAT: Final = "FLOAT"
STRING: Final = "STRING"
BOOL: Final = "BOOL"
NULL: Final = "NULL"
TERMINATOR: Final = "TERMINATOR"

OR: Final = "||"
AND: Final = "&&"
NOT: Final = "!"
ASSIGN: Final = "="
EQ: Final = "=="
NEQ: Final = "!="
LT: Final = "<"
LTE: Final = "<="
GT: Final = ">"
GTE: Final = ">="
ADD: Final = "+"
SUB: Final = "-"
MUL: Final = "*"
DIV: Final = "/"
MOD: Final = "%"
POW: Final = "^"
LCURLY: Final = "{"
RCURLY: Final = "}"
LPAREN: Final = "("
RPAREN: Final = ")"
LBRACK: Final = "["
RBRACK: Final = "]"
COMMA: Final = ","
DOT: Final = "."

# Binary operator precedence, lowest 1 to highest 6 (`^` is right-associative); 0 = not a binary operator.
PRECEDENCE: Final[dict[str, int]] = {
    OR: 1,
    AND: 2,
    EQ: 3,
    NEQ: 3,
    LT: 3,
    LTE: 3,
    GT: 3,
    GTE: 3,
    ADD: 4,
    SUB: 4,
    MUL: 5,
    DIV: 5,
    MOD: 5,
    POW: 6,
}

KEYWORDS: Final[dict[str, str]] = {"true": BOOL, "false": BOOL, "null": NULL}
