"""The pytest plugin under pytest-xdist, and why each worker runs a stack of its own.

1. The 60-test isolation suite (tests/plugin/xdist_suite/) on the notes example server, run by
   a fresh `pytest -n N` for each N: wall seconds, and CPU seconds of pytest and its workers.
2. The two designs the plugin could use under `-n 4`, on the same work (4 workers x FLOWS
   sign-ins and a tool call each): every worker with an in-process stack of its own, or all four
   sharing one sandbox process started once. Wall seconds, start-ups included.

    python bench/bench_xdist.py [--runs 2] [--workers 0,2,4] [--flows 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sandbox.testing.upstreams import wait_for_port

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "plugin" / "xdist_suite" / "suite_isolation.py"

# One worker's share of the design comparison: FLOWS full sign-ins (DCR, consent, login) and a call.
FLOWS_SCRIPT = """
import asyncio, sys, warnings
from fastmcp import Client
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth

# Each sign-in's tokens are meant to live in memory only: FastMCP warns of that once per client.
warnings.filterwarnings("ignore", message="Using in-memory token storage")

async def flows(mcp_url, count):
    for n in range(count):
        async with Client(mcp_url, auth=HeadlessOAuth(HeadlessBrowser("alice", "alice"))) as client:
            await client.call_tool("add_note", {"text": f"flow {n}"})

def own_stack(count, state_dir):
    from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox
    settings = IsolatedSettings(port=free_port(), state_dir=state_dir)
    with running_sandbox(settings, server=__import__("notes_server.server").server.mcp) as running:
        asyncio.run(flows(running.mcp_url, count))

if sys.argv[1] == "own":
    own_stack(int(sys.argv[2]), sys.argv[3])
else:
    asyncio.run(flows(sys.argv[1], int(sys.argv[2])))
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def suite_run(directory: Path, workers: int) -> tuple[float, float]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers)]
    cpu, started = children_cpu(), time.monotonic()
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=1800)
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    if result.returncode != 0 or "60 passed" not in result.stdout:
        raise SystemExit(f"-n {workers} failed (exit {result.returncode}):\n{result.stdout[-2000:]}")
    return wall, cpu


def design_run(directory: Path, shared: bool, workers: int, flows: int) -> tuple[float, float]:
    script = directory / "flows.py"
    env = {**os.environ, "PYTHONPATH": str(directory)}
    cpu, started = children_cpu(), time.monotonic()
    server = None
    if shared:
        port = _free_port()
        sandbox = ["--port", str(port), "--server", "notes_server.server:mcp", "--state-dir", str(directory / "state")]
        server = subprocess.Popen(
            [sys.executable, "-m", "sandbox", *sandbox],
            cwd=directory,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The CLI binds its port before building the app; a flow sent earlier waits in the backlog.
        wait_for_port(port, server, timeout=120)
        targets = [[f"http://localhost:{port}/mcp", str(flows)]] * workers
    else:
        targets = [["own", str(flows), str(directory / f"state-{n}")] for n in range(workers)]
    try:
        runs = [subprocess.Popen([sys.executable, str(script), *args], cwd=directory, env=env) for args in targets]
        if any(run.wait(timeout=1800) != 0 for run in runs):
            raise SystemExit(f"a {'shared' if shared else 'own-stack'} worker failed")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return time.monotonic() - started, children_cpu() - cpu


def _free_port() -> int:
    from sandbox.testing.server import free_port

    return free_port()


def _figures(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} s  (runs: {', '.join(f'{v:.1f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workers", default="0,2,4", help="comma-separated -n values for the suite")
    parser.add_argument("--flows", type=int, default=15, help="sign-ins per worker in the design comparison")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        shutil.copytree(ROOT / "examples" / "notes_server", directory / "notes_server")
        shutil.copy(ROOT / "examples" / "conftest.py", directory)
        shutil.copy(SUITE, directory / "test_isolation.py")
        (directory / "flows.py").write_text(textwrap.dedent(FLOWS_SCRIPT))
        suite: dict[int, list[tuple[float, float]]] = {n: [] for n in counts}
        designs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.runs):  # interleaved, so a busy neighbour slows every variant alike
            for n in counts:
                suite[n].append(suite_run(directory, n))
            for shared in (False, True):
                designs[shared].append(design_run(directory, shared, 4, args.flows))
    print(f"pytest plugin under pytest-xdist ({os.cpu_count()} cores, mock backend, median of {args.runs})")
    for n in counts:
        walls, cpus = [wall for wall, _ in suite[n]], [cpu for _, cpu in suite[n]]
        per_test = statistics.median(cpus) / 60
        print(
            f"  60-test suite, -n {n}: wall {_figures(walls)}; CPU {statistics.median(cpus):.1f} s ({per_test:.2f} s/test)"
        )
    for shared, name in ((False, "a stack per worker"), (True, "one shared stack  ")):
        walls, cpus = [wall for wall, _ in designs[shared]], [cpu for _, cpu in designs[shared]]
        print(
            f"  4 workers x {args.flows} sign-ins, {name}: wall {_figures(walls)}; CPU {statistics.median(cpus):.1f} s"
        )


if __name__ == "__main__":
    main()
