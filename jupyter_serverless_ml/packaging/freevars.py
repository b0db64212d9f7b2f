"""Static analysis of Python source: free names, imported modules, channel literals."""

from __future__ import annotations

import ast
import builtins
import symtable

from ..errors import UsageError

BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__file__", "__builtins__"}


def _unparsable(exc: SyntaxError, what: str) -> UsageError:
    return UsageError(f"{what} does not parse: line {exc.lineno}: {exc.msg}; fix it and rerun")


def parse(source: str, what: str = "the cell") -> ast.Module:
    """Parse ``source``; a syntax error is a UsageError naming the line."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise _unparsable(exc, what) from exc


def free_names(source: str) -> set[str]:
    """Names ``source`` reads from the global scope without binding them itself.

    A name bound anywhere at module level (assignment, import, def, class, or a
    ``global`` statement in a function) counts as bound. Builtins are excluded.
    """
    try:
        top = symtable.symtable(source, "<cell>", "exec")
    except SyntaxError as exc:
        raise _unparsable(exc, "the cell") from exc
    bound: set[str] = set()
    used: set[str] = set()
    for sym in top.get_symbols():
        name = sym.get_name()
        if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
            bound.add(name)
        if sym.is_referenced():
            used.add(name)

    def visit(table: symtable.SymbolTable) -> None:
        for sym in table.get_symbols():
            if sym.is_global():
                if sym.is_assigned() and sym.is_declared_global():
                    bound.add(sym.get_name())
                if sym.is_referenced():
                    used.add(sym.get_name())
        for child in table.get_children():
            visit(child)

    for child in top.get_children():
        visit(child)
    return used - bound - BUILTIN_NAMES


def imported_modules(source: str) -> set[str]:
    """Dotted names of modules ``source`` imports (absolute imports only)."""
    modules: set[str] = set()
    for node in ast.walk(parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def channel_literals(source: str) -> set[str]:
    """Channel names passed as string literals to ``channel(...)`` in ``source``."""
    names: set[str] = set()
    for node in ast.walk(parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "channel"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def top_level_definition(source: str, name: str) -> str | None:
    """The source (decorators included) of the last top-level def or class ``name`` in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    lines = source.splitlines(keepends=True)
    found = None
    for node in tree.body:
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name == name
        ):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found = "".join(lines[start - 1 : node.end_lineno])
    return found
