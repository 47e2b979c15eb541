"""Load, validate and evaluate an Alloy config the way the stand-in needs (fleetui lab stand-in for Grafana Alloy).

Validation reports what `alloy validate` reports for the configs fleetui writes: syntax (the team's parser),
unknown component names (`cannot find the definition of component name`), missing labels and duplicates,
missing required attributes of the components fleetui uses, and references to components that do not exist
(`component "x.y.z" does not exist or is out of scope`). Evaluation turns the blocks into `Component`s with
their arguments evaluated (references, `sys.env`, `constants.hostname`, `+`, and a few stdlib functions).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetui.alloy.syntax import AlloySyntaxError, ast, parse

COMPONENTS = frozenset((Path(__file__).with_name("components.txt")).read_text().split())
CONFIG_BLOCKS = frozenset(
    {
        "logging",
        "tracing",
        "http",
        "livedebugging",
        "remotecfg",
        "argument",
        "export",
        "declare",
        "foreach",
        "import.file",
        "import.git",
        "import.http",
        "import.string",
    }
)
REQUIRED: dict[str, tuple[str, ...]] = {
    "prometheus.scrape": ("targets", "forward_to"),
    "prometheus.relabel": ("forward_to",),
    "discovery.relabel": ("targets",),
    "prometheus.exporter.postgres": ("data_source_names",),
    "loki.source.journal": ("forward_to",),
    "loki.source.file": ("targets", "forward_to"),
    "loki.relabel": ("forward_to",),
    "loki.process": ("forward_to",),
    "local.file_match": ("path_targets",),
    "import.file": ("filename",),
    "import.string": ("content",),
    "import.http": ("url",),
    "import.git": ("repository",),
}
REQUIRED_IN_BLOCK = {("prometheus.remote_write", "endpoint"): ("url",), ("loki.write", "endpoint"): ("url",)}


@dataclass(frozen=True)
class Diag:
    filename: str
    pos: ast.Pos
    message: str
    end: ast.Pos | None = None
    severity: str = "Error"


class ConfigError(Exception):
    """The config cannot load; `diags` are printed Alloy-style."""

    def __init__(self, diags: list[Diag]) -> None:
        self.diags = diags
        super().__init__("; ".join(f"{d.filename}:{d.pos.line}:{d.pos.col}: {d.message}" for d in diags))


@dataclass(frozen=True)
class Capsule:
    """An opaque export (a receiver, a rules list) that can only be passed around."""

    kind: str
    component: str


@dataclass
class Component:
    id: str  # prometheus.scrape.node_exporter
    name: str  # prometheus.scrape
    label: str
    block: ast.Block
    filename: str
    args: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    components: dict[str, Component]
    settings: dict[str, ast.Block]
    sources: dict[str, str]


def read_sources(path: str) -> dict[str, str]:
    """PATH is a file, or a directory whose *.alloy files (non-recursive) form one config."""
    p = Path(path)
    if p.is_dir():
        return {str(f): f.read_text() for f in sorted(p.glob("*.alloy")) if f.is_file()}
    return {path: p.read_text()}


def _files(sources: dict[str, str]) -> list[ast.File]:
    files, diags = [], []
    for name, src in sources.items():
        try:
            files.append(parse(src, name))
        except AlloySyntaxError as e:
            diags += [Diag(d.filename, ast.Pos(d.line, d.col), d.message) for d in e.diagnostics]
    if diags:
        raise ConfigError(diags)
    return files


def _ref_path(e: ast.Expr) -> tuple[list[str], ast.Pos] | None:
    parts: list[str] = []
    while isinstance(e, ast.Access):
        parts.append(e.name)
        e = e.value
    if isinstance(e, ast.Ident):
        return [e.name, *reversed(parts)], e.pos
    return None


def _walk_exprs(e: ast.Expr) -> list[ast.Expr]:
    """Outermost reference-like expressions inside e (Access chains / Idents), plus calls' func excluded."""
    out: list[ast.Expr] = []
    if isinstance(e, ast.Access | ast.Ident):
        if _ref_path(e) is not None:
            out.append(e)
        else:
            out += _walk_exprs(e.value) if isinstance(e, ast.Access) else []
    elif isinstance(e, ast.Array):
        for x in e.elements:
            out += _walk_exprs(x)
    elif isinstance(e, ast.Object):
        for f in e.fields:
            out += _walk_exprs(f.value)
    elif isinstance(e, ast.Index):
        out += _walk_exprs(e.value) + _walk_exprs(e.index)
    elif isinstance(e, ast.Call):
        for a in e.args:
            out += _walk_exprs(a)
        if not isinstance(e.func, ast.Access | ast.Ident):
            out += _walk_exprs(e.func)
    elif isinstance(e, ast.Unary):
        out += _walk_exprs(e.value)
    elif isinstance(e, ast.Binary):
        out += _walk_exprs(e.left) + _walk_exprs(e.right)
    elif isinstance(e, ast.Paren):
        out += _walk_exprs(e.inner)
    return out


STDLIB_ROOTS = {
    "sys",
    "constants",
    "env",
    "concat",
    "format",
    "json_decode",
    "coalesce",
    "nonsensitive",
    "array",
    "string",
    "encoding",
    "convert",
    "file",
    "json_path",
    "join",
    "trim",
    "to_lower",
    "to_upper",
    "replace",
    "split",
    "trim_prefix",
    "trim_suffix",
    "trim_space",
    "base64_decode",
    "target",
}


def _block_end(b: ast.Block) -> ast.Pos:
    return b.end or b.pos


def load(sources: dict[str, str], *, check_refs: bool = True) -> Graph:
    """Parse + validate; raises ConfigError with every diagnostic found."""
    files = _files(sources)
    diags: list[Diag] = []
    comps: dict[str, Component] = {}
    settings: dict[str, ast.Block] = {}
    for f in files:
        for st in f.body:
            if isinstance(st, ast.Attribute):
                diags.append(Diag(f.name, st.pos, f'unrecognized attribute name "{st.name}"'))
                continue
            name = st.full_name
            if (
                name in CONFIG_BLOCKS
                and name not in ("declare", "argument", "export", "foreach")
                and not name.startswith("import.")
            ):
                if name in settings:
                    diags.append(Diag(f.name, st.pos, f'"{name}" block already declared'))
                settings[name] = st
                continue
            if name not in COMPONENTS and name not in CONFIG_BLOCKS:
                diags.append(
                    Diag(
                        f.name,
                        st.pos,
                        f'cannot find the definition of component name "{name}"',
                        ast.Pos(st.pos.line, st.pos.col + len(name)),
                    )
                )
                continue
            if st.label is None:
                diags.append(Diag(f.name, st.pos, f'component "{name}" must have a label'))
                continue
            cid = f"{name}.{st.label}"
            if cid in comps:
                prev = comps[cid]
                diags.append(
                    Diag(
                        f.name,
                        st.pos,
                        f"block {cid} already declared at {prev.filename}:{prev.block.pos.line}:{prev.block.pos.col}",
                    )
                )
                continue
            comps[cid] = Component(cid, name, st.label, st, f.name)
    for c in comps.values():
        attrs = {s.name for s in c.block.body if isinstance(s, ast.Attribute)}
        for req in REQUIRED.get(c.name, ()):
            if req not in attrs:
                diags.append(Diag(c.filename, c.block.pos, f'missing required attribute "{req}"', _block_end(c.block)))
        for s in c.block.body:
            if isinstance(s, ast.Block):
                for req in REQUIRED_IN_BLOCK.get((c.name, s.full_name), ()):
                    if not any(isinstance(x, ast.Attribute) and x.name == req for x in s.body):
                        diags.append(Diag(c.filename, s.pos, f'missing required attribute "{req}"', _block_end(s)))
    if check_refs:
        for c in comps.values():
            for e in _stmt_exprs(c.block.body):
                for ref in _walk_exprs(e):
                    rp = _ref_path(ref)
                    assert rp is not None
                    parts, pos = rp
                    if parts[0] in STDLIB_ROOTS:
                        continue
                    if not _resolves(parts, comps):
                        dotted = ".".join(parts)
                        diags.append(
                            Diag(
                                c.filename,
                                pos,
                                f'component "{dotted}" does not exist or is out of scope',
                                ast.Pos(pos.line, pos.col + len(dotted)),
                            )
                        )
    if diags:
        raise ConfigError(diags)
    return Graph(comps, settings, sources)


def _stmt_exprs(body: tuple[ast.Stmt, ...]) -> list[ast.Expr]:
    out: list[ast.Expr] = []
    for s in body:
        if isinstance(s, ast.Attribute):
            out.append(s.value)
        else:
            out += _stmt_exprs(s.body)
    return out


def _resolves(parts: list[str], comps: dict[str, Component]) -> bool:
    return any(".".join(parts[:i]) in comps for i in range(2, len(parts)))


# --- evaluation ---------------------------------------------------------------------------------------------


class EvalError(Exception):
    def __init__(self, filename: str, pos: ast.Pos, message: str) -> None:
        self.diag = Diag(filename, pos, message)
        super().__init__(message)


def _fmt(fmt: str, *args: Any) -> str:
    out, i, ai = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            i += 2
            if verb == "%":
                out.append("%")
                continue
            v = args[ai] if ai < len(args) else "%!" + verb + "(MISSING)"
            ai += 1
            out.append(json.dumps(v) if verb == "q" else str(v))
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _funcs(env: dict[str, str]) -> dict[str, Callable[..., Any]]:
    def from_json(s: str) -> Any:
        return json.loads(s)

    def coalesce(*a: Any) -> Any:
        return next((x for x in a if x not in (None, "", [], {})), a[-1] if a else None)

    return {
        "sys.env": lambda k: env.get(k, ""),
        "env": lambda k: env.get(k, ""),
        "array.concat": lambda *a: [x for arr in a for x in arr],
        "concat": lambda *a: [x for arr in a for x in arr],
        "string.format": _fmt,
        "format": _fmt,
        "string.join": lambda a, sep: sep.join(a),
        "string.to_lower": lambda s: s.lower(),
        "string.to_upper": lambda s: s.upper(),
        "string.trim_space": lambda s: s.strip(),
        "string.replace": lambda s, a, b: s.replace(a, b),
        "string.split": lambda s, sep: s.split(sep),
        "encoding.from_json": from_json,
        "json_decode": from_json,
        "coalesce": coalesce,
        "convert.nonsensitive": lambda s: s,
        "nonsensitive": lambda s: s,
        "file.path_join": lambda *a: os.path.join(*a),
    }


class Evaluator:
    """Evaluates component arguments lazily so references resolve in dependency order."""

    def __init__(
        self, graph: Graph, *, listen_addr: str, hostname: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.g = graph
        self.listen_addr = listen_addr
        self.hostname = hostname or socket.gethostname()
        self.env = dict(os.environ if env is None else env)
        self.funcs = _funcs(self.env)
        self._busy: set[str] = set()
        self._done: set[str] = set()

    def constants(self) -> dict[str, str]:
        return {"hostname": self.hostname, "os": "linux", "arch": "amd64", "version": "v" + _version()}

    def evaluate_all(self) -> None:
        for cid in self.g.components:
            self.component(cid)

    def component(self, cid: str) -> Component:
        c = self.g.components[cid]
        if cid in self._done:
            return c
        if cid in self._busy:
            raise EvalError(c.filename, c.block.pos, f"cycle detected involving {cid}")
        self._busy.add(cid)
        for s in c.block.body:
            if isinstance(s, ast.Attribute):
                c.args[s.name] = self.expr(s.value, c.filename)
            else:
                c.blocks.setdefault(s.full_name, []).append(self._block(s, c.filename))
        c.exports = self._exports(c)
        self._busy.discard(cid)
        self._done.add(cid)
        return c

    def _block(self, b: ast.Block, filename: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in b.body:
            if isinstance(s, ast.Attribute):
                out[s.name] = self.expr(s.value, filename)
            else:
                out.setdefault(s.full_name, []).append(self._block(s, filename))
        return out

    def _exports(self, c: Component) -> dict[str, Any]:
        if c.name.startswith("prometheus.exporter."):
            kind = c.name.rsplit(".", 1)[1]
            job = {"unix": "integrations/unix", "self": "integrations/alloy"}.get(kind, f"integrations/{kind}")
            return {
                "targets": [
                    {
                        "__address__": self.listen_addr,
                        "__metrics_path__": f"/api/v0/component/{c.id}/metrics",
                        "instance": self.hostname,
                        "job": job,
                    }
                ]
            }
        if c.name == "discovery.relabel":
            from fleetui.lab.alloy_standin.relabel import relabel_targets

            rules = c.blocks.get("rule", [])
            return {"output": relabel_targets(list(c.args.get("targets", [])), rules), "rules": Capsule("rules", c.id)}
        if c.name in ("prometheus.relabel", "loki.relabel"):
            return {"receiver": Capsule("receiver", c.id), "rules": Capsule("rules", c.id)}
        if c.name in ("prometheus.remote_write", "loki.write", "loki.process", "otelcol.exporter.otlp"):
            return {"receiver": Capsule("receiver", c.id), "input": Capsule("receiver", c.id)}
        return {}

    def expr(self, e: ast.Expr, fn: str) -> Any:
        if isinstance(e, ast.Literal):
            return e.value
        if isinstance(e, ast.Array):
            return [self.expr(x, fn) for x in e.elements]
        if isinstance(e, ast.Object):
            return {f.key: self.expr(f.value, fn) for f in e.fields}
        if isinstance(e, ast.Paren):
            return self.expr(e.inner, fn)
        if isinstance(e, ast.Access | ast.Ident):
            rp = _ref_path(e)
            if rp is not None:
                return self._ref(rp[0], rp[1], fn)
            assert isinstance(e, ast.Access)
            v = self.expr(e.value, fn)
            if isinstance(v, dict) and e.name in v:
                return v[e.name]
            raise EvalError(fn, e.pos, f'field "{e.name}" does not exist')
        if isinstance(e, ast.Index):
            v, i = self.expr(e.value, fn), self.expr(e.index, fn)
            try:
                return v[i]
            except (IndexError, KeyError, TypeError):
                raise EvalError(fn, e.pos, f"index {i!r} out of range") from None
        if isinstance(e, ast.Call):
            rp = _ref_path(e.func)
            name = ".".join(rp[0]) if rp else ""
            func = self.funcs.get(name)
            if func is None:
                raise EvalError(fn, e.pos, f'function "{name}" does not exist')
            args = [self.expr(a, fn) for a in e.args]
            try:
                return func(*args)
            except (TypeError, ValueError, AttributeError) as err:
                raise EvalError(fn, e.pos, f"{name}: {err}") from None
        if isinstance(e, ast.Unary):
            v = self.expr(e.value, fn)
            return (not v) if e.op == "!" else -v
        if isinstance(e, ast.Binary):
            return self._binary(e, fn)
        raise EvalError(fn, getattr(e, "pos", ast.Pos(1, 1)), "unsupported expression")

    def _binary(self, e: ast.Binary, fn: str) -> Any:
        a = self.expr(e.left, fn)
        if e.op == "||":
            return bool(a) or bool(self.expr(e.right, fn))
        if e.op == "&&":
            return bool(a) and bool(self.expr(e.right, fn))
        b = self.expr(e.right, fn)
        try:
            ops: dict[str, Callable[[Any, Any], Any]] = {
                "+": lambda x, y: x + y,
                "-": lambda x, y: x - y,
                "*": lambda x, y: x * y,
                "/": lambda x, y: x / y,
                "%": lambda x, y: x % y,
                "^": lambda x, y: x**y,
                "==": lambda x, y: x == y,
                "!=": lambda x, y: x != y,
                "<": lambda x, y: x < y,
                "<=": lambda x, y: x <= y,
                ">": lambda x, y: x > y,
                ">=": lambda x, y: x >= y,
            }
            if e.op == "+" and isinstance(a, str) != isinstance(b, str):
                raise TypeError
            return ops[e.op](a, b)
        except (TypeError, ZeroDivisionError):
            raise EvalError(fn, e.pos, f"invalid operation: {type(a).__name__} {e.op} {type(b).__name__}") from None

    def _ref(self, parts: list[str], pos: ast.Pos, fn: str) -> Any:
        if parts[0] == "constants" and len(parts) == 2:
            consts = self.constants()
            if parts[1] in consts:
                return consts[parts[1]]
        for i in range(len(parts) - 1, 1, -1):
            cid = ".".join(parts[:i])
            if cid in self.g.components:
                v: Any = self.component(cid).exports
                for name in parts[i:]:
                    if not isinstance(v, dict) or name not in v:
                        v = Capsule("value", cid)  # an export this stand-in does not model
                        break
                    v = v[name]
                return v
        raise EvalError(fn, pos, f'component "{".".join(parts)}" does not exist or is out of scope')


def _version() -> str:
    from fleetui.lab.alloy_standin import version

    return version()
