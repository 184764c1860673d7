"""Flow-trace cost on the hot path (not a test: it prints figures, it asserts nothing).

`greet` calls/s on one authenticated session (memory store) each, from two sandboxes served
side by side, one with the trace on and one with `--no-trace`, taking turns as
bench_sandbox's greet rounds do (ROUNDS rounds of CALLS calls, which goes first alternating):
each rate is the median over rounds, the ratio the median of the rounds' own ratios. One
sandbox after the other, best of three, read 0.81 and 0.94 on two runs of the same code,
because this machine's neighbours come and go between runs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import warnings
from contextlib import ExitStack
from operator import truediv

from bench_sandbox import CALLS, ROUNDS, greet_rounds, sandbox_args, signed_in, spawned

from sandbox.testing.server import free_port


def main() -> None:
    warnings.filterwarnings("ignore", message="Using in-memory token storage")
    with ExitStack() as stack:
        urls = []
        for trace in (True, False):
            state = stack.enter_context(tempfile.TemporaryDirectory())
            port = free_port()
            args = sandbox_args("mock", port, state, "memory") + ([] if trace else ["--no-trace"])
            stack.enter_context(spawned(args, f"http://localhost:{port}/healthz"))
            urls.append(f"http://localhost:{port}/mcp")
        on, off = asyncio.run(greet_rounds([signed_in(url) for url in urls]))
    median = statistics.median
    print(f"flow trace overhead ({os.cpu_count()} cores, loopback, {CALLS} sequential greet calls, median of {ROUNDS})")
    print(f"  trace on   {median(on):7.0f} calls/s")
    print(f"  trace off  {median(off):7.0f} calls/s")
    print(f"  on / off   {median(map(truediv, on, off)):7.2f}")


if __name__ == "__main__":
    main()
