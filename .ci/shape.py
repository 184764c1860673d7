#!/usr/bin/env python3
"""Issue 12's shape rule for `make lint`: no module over 300 lines, no function over 60.

Long files and functions are where a reader loses the thread; the limits are fixed here, not
per file, so that a split is the only way past them. Prints one line per offender, the longest
first (`path:line: function name is N lines (limit 60)`), and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

MODULE_LIMIT = 300
FUNCTION_LIMIT = 60


class Offender(NamedTuple):
    path: Path
    line: int
    what: str
    length: int
    limit: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} is {self.length} lines (limit {self.limit})"


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def offenders(path: Path) -> list[Offender]:
    """The module itself if it is too long, and each function in it that is (nested ones too)."""
    source = path.read_text(encoding="utf-8")
    found: list[Offender] = []
    lines = len(source.splitlines())
    if lines > MODULE_LIMIT:
        found.append(Offender(path, 1, "module", lines, MODULE_LIMIT))
    for function in _functions(ast.parse(source, filename=str(path))):
        # From the `def` line to the last line of the body: decorators are not the function's length.
        length = (function.end_lineno or function.lineno) - function.lineno + 1
        if length > FUNCTION_LIMIT:
            found.append(Offender(path, function.lineno, f"function {function.name}", length, FUNCTION_LIMIT))
    return found


def python_files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        yield from [root] if root.is_file() else sorted(root.rglob("*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("roots", nargs="+", type=Path, help="packages or files to check")
    args = parser.parse_args(argv)
    missing = [root for root in args.roots if not root.exists()]
    if missing:
        print(f"shape: no such file or directory: {missing[0]}", file=sys.stderr)
        return 2
    try:
        found = [offender for path in python_files(args.roots) for offender in offenders(path)]
    except SyntaxError as error:
        print(f"shape: {error.filename}:{error.lineno}: cannot parse: {error.msg}", file=sys.stderr)
        return 2
    for offender in sorted(found, key=lambda o: -o.length):
        print(offender)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
