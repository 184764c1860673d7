"""The shape check of `make lint` (.ci/shape.py): each offender named on one line, with its length."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SHAPE = Path(__file__).resolve().parents[2] / ".ci" / "shape.py"


def shape(*roots: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SHAPE), *map(str, roots)], capture_output=True, text=True)


def function(name: str, lines: int) -> str:
    """A function exactly ``lines`` long, from its def to its last statement."""
    return f"def {name}():\n" + "    x = 1\n" * (lines - 1)


def test_a_tree_within_the_limits_passes(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(function("fits", 60) + "\n" * (300 - 60))
    result = shape(tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


def test_each_offender_is_one_line_naming_it_longest_first(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "long_function.py").write_text(function("too_long", 61))
    (package / "long_module.py").write_text("\n".join(f"X{i} = {i}" for i in range(301)) + "\n")
    (package / "nested.py").write_text(
        "class C:\n" + "\n".join("    " + line for line in function("m", 70).splitlines())
    )
    result = shape(package)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{package / 'long_module.py'}:1: module is 301 lines (limit 300)",
        f"{package / 'nested.py'}:2: function m is 70 lines (limit 60)",
        f"{package / 'long_function.py'}:1: function too_long is 61 lines (limit 60)",
    ]


def test_a_missing_root_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = shape(tmp_path / "nowhere")
    assert result.returncode == 2
    assert result.stderr == f"shape: no such file or directory: {tmp_path / 'nowhere'}\n"


def test_a_file_that_does_not_parse_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n")
    result = shape(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"shape: {tmp_path / 'broken.py'}:1: cannot parse: ")
