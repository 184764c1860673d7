"""A stack's start-up phases with their times, on the terminal under ``pytest -v`` (issue 17).

A slow session start is then visible as Keycloak's boot or the sandbox's own start, without
a profiler; without ``-v`` nothing is printed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import pytest


class StartupPhases:
    """Times each phase of a stack's start-up and reports it (the plugin shows them under ``-v``)."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.report(f"mcp-oauth-sandbox: {name} in {time.perf_counter() - started:.1f} s")


def terminal_phases(config: pytest.Config) -> StartupPhases:
    """Phases written past output capture (a fixture's setup is captured) when verbose, else dropped."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def report(line: str) -> None:
        if config.get_verbosity() < 1 or terminal is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            terminal.write_line(line)

    return StartupPhases(report)
