"""No SQL is built by string formatting: every ``text(...)``, ``execute(...)`` and
``exec_driver_sql(...)`` in src/ gets a literal or a SQLAlchemy construct, values go in as bound
parameters. AST-based, so comments, strings and line breaks do not fool it.

Reviewed exceptions (file, function, reason) are listed in ALLOWED; a new one fails this test until
it is reviewed and added with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "spotify_pipeline"
SQL_CALLS = {"text", "execute", "exec_driver_sql"}
ALLOWED: set[tuple[str, str]] = {
    # Database and table names cannot be bound. Every name is the configured database's (checked
    # against [A-Za-z0-9_$]{1,55} in _MysqlStage.__init__) plus a constant suffix, or a table of our
    # own schema, and backquoted; the charset/collation come from information_schema, checked \w+.
    ("warehouse/staging.py", "create"),
    ("warehouse/staging.py", "swap"),
    ("warehouse/staging.py", "discard"),
    # Schema names cannot be bound either: the current schema checked against [a-z_][a-z0-9_]{0,52}
    # in PostgresStage.__init__ plus a constant suffix, and tables of our own schema; double-quoted.
    ("warehouse/staging_pg.py", "create"),
    ("warehouse/staging_pg.py", "swap"),
    ("warehouse/staging_pg.py", "discard"),
}


def _formatted(node: ast.expr) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return _stringy(node.left) or _stringy(node.right) or _formatted(node.left) or _formatted(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _stringy(node.func.value)
    return False


def _stringy(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr)


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


class _Finder(ast.NodeVisitor):
    """Records (file, innermost enclosing function) of each SQL call given a formatted string."""

    def __init__(self, rel: str) -> None:
        self.rel, self.stack, self.found = rel, ["<module>"], set[tuple[str, str]]()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function  # noqa: N815 - NodeVisitor's naming

    def visit_Call(self, node: ast.Call) -> None:
        if _name(node.func) in SQL_CALLS and node.args and _formatted(node.args[0]):
            self.found.add((self.rel, self.stack[-1]))
        self.generic_visit(node)


def _violations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        finder = _Finder(path.relative_to(SRC).as_posix())
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found |= finder.found
    return found


def test_no_sql_is_built_by_string_formatting() -> None:
    unexpected = sorted(_violations() - ALLOWED)
    assert not unexpected, (
        f"SQL built by string formatting (bind parameters instead, or review): {unexpected}"
    )


def test_the_checker_catches_each_form(tmp_path: Path) -> None:
    for source in (
        'conn.execute(text(f"SELECT {x}"))',
        'conn.execute("SELECT %s" % x)',
        'conn.exec_driver_sql("SELECT {}".format(x))',
        'text("SELECT " + x)',
    ):
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        inner = call.args[0]
        assert _formatted(inner) or (isinstance(inner, ast.Call) and _formatted(inner.args[0])), source
    for source in (
        'text("SELECT 1")',
        'conn.execute(text("SELECT :x"), {"x": x})',
        "conn.execute(select(t))",
    ):
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        assert not _formatted(call.args[0]), source
