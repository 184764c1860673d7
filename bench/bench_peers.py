"""The mock IdP side by side with its peers, in one run, interleaved (a script, not a test).

Each round starts every contender once, in a rotated order, so a load change on the shared
machine falls on all of them alike; the figures are medians over the rounds:
- cold start: process spawn until discovery answers 200, polled every 10 ms; and until the
  first token, asked for once discovery answers (a contender that loads its endpoints after
  serving discovery pays for that here; oidc-provider-mock's includes the login its refresh
  grant needs);
- token and JWKS throughput at 1 and 8 connections, by wrk replaying one request;
- RSS (the resident memory of the process and any workers it started) after those runs.
The last column is the default mock_idp's figure (one process) over the best peer's
(throughput: > 1 is ahead; cold start and memory: < 1 is ahead). The column
"mock_idp --workers 2 (Redis)" is this project's too, shown beside it and never taken as a
peer. Contenders: bench/peers.py.

    .venv/bin/python bench/bench_peers.py [--rounds 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers import ROOT, Contender, Request, installed

from sandbox.testing.server import free_port

POLL = 0.010
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Measure:
    label: str
    unit: str
    higher_is_better: bool


MEASURES = [
    Measure("cold start to discovery 200", "ms", False),
    Measure("cold start to first token 200", "ms", False),
    Measure("token, c1", "req/s", True),
    Measure("token, c8", "req/s", True),
    Measure("JWKS, c1", "req/s", True),
    Measure("JWKS, c8", "req/s", True),
    Measure("RSS after warm-up", "MiB", False),
]


def cold_start(
    contender: Contender, port: int, state: Path, http: httpx.Client
) -> tuple[subprocess.Popen[bytes], float, float]:
    """Spawn and poll discovery every 10 ms; the clock starts just before the spawn (returned too).
    ``http`` is made before it: building a client (an SSL context) costs ~30 ms of CPU."""
    url = contender.urls(port).discovery
    env = {**os.environ, **contender.env(port)}
    command = contender.command(port, state)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=state, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() - started < START_TIMEOUT:
        if process.poll() is not None:
            raise RuntimeError(f"{contender.name} exited during start-up (status {process.returncode})")
        try:
            if http.get(url).status_code == 200:
                return process, (time.perf_counter() - started) * 1000, started
        except httpx.TransportError:
            pass
        time.sleep(POLL)
    process.kill()
    raise RuntimeError(f"{contender.name}: no discovery 200 within {START_TIMEOUT:.0f} s")


def first_token(token: Request, spawned: float, http: httpx.Client) -> float:
    """Milliseconds from the spawn until ``token`` (sent once, now) is answered 200."""
    if token.body is None:
        raise RuntimeError(f"no token request body for {token.url}")
    answer = http.post(
        token.url, content=token.body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    if answer.status_code != 200:
        raise RuntimeError(f"first token: {token.url} answered {answer.status_code}")
    return (time.perf_counter() - spawned) * 1000


def wrk(request: Request, connections: int, seconds: int, script_dir: Path) -> float:
    """Requests per second wrk reaches; a non-2xx answer or a socket error voids the figure."""
    command = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s"]
    if request.body is not None:
        script = script_dir / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {request.body!r}\n"
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n',
            encoding="utf-8",
        )
        command += ["-s", str(script)]
    output = subprocess.run([*command, request.url], capture_output=True, text=True, check=True).stdout
    # A read error is a server closing the connection after its answer (navikt does, each
    # time); wrk then reconnects, and that cost is the server's, so it stays in the figure.
    if "Non-2xx" in output or re.search(r"Socket errors: connect [1-9]|(write|timeout) [1-9]", output):
        raise RuntimeError(f"wrk saw errors for {request.url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"wrk printed no rate for {request.url}:\n{output}")
    return float(match.group(1))


def rss_mib(pid: int) -> float:
    """The resident memory of ``pid`` and its descendants (a contender with worker processes
    counts them all; a single process is itself)."""
    total = 0
    for each in [pid, *_descendants(pid)]:
        try:
            match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{each}/status").read_text(encoding="ascii"))
        except OSError:  # ended meanwhile
            continue
        total += int(match.group(1)) if match else 0
    return total / 1024 if total else float("nan")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending += children.get(child, [])
    return found


def one_round(contender: Contender, seconds: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        state = Path(tmp)
        port = free_port()
        with httpx.Client(timeout=1.0) as http:
            process, started_ms, spawned = cold_start(contender, port, state, http)
            try:
                running = contender.prepare(contender.urls(port))
                first_token_ms = first_token(running.token, spawned, http)
            except BaseException:
                stop(process)
                raise
        try:
            for request in (running.token, Request(running.jwks)):  # warm-up: JIT, caches, pools
                wrk(request, 8, 1, state)
            figures = [started_ms, first_token_ms]
            for request in (running.token, Request(running.jwks)):
                figures += [wrk(request, connections, seconds, state) for connections in (1, 8)]
            figures.append(rss_mib(process.pid))
            return figures
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ratio_cell(ours: float, best: float, measure: Measure) -> str:
    value = ours / best if best else float("nan")
    ahead = value >= 1 if measure.higher_is_better else value <= 1
    return f"{value:.2f} {'ahead' if ahead else 'behind'}"


def print_table(names: list[str], results: dict[str, list[list[float]]], rounds: int, variants: set[str]) -> None:
    """``names[0]`` is the headline (the default mock); ``variants`` are this project's other
    columns, shown but never taken as the best peer."""
    ours, peers = names[0], [name for name in names[1:] if name not in variants]
    header = ["", *names, "mock_idp / best peer"]
    rows = [header]
    for index, measure in enumerate(MEASURES):
        medians = {name: statistics.median(r[index] for r in results[name]) for name in names if results[name]}
        row = [f"{measure.label} ({measure.unit})"]
        row += [f"{medians[name]:,.0f}" if name in medians else "-" for name in names]
        peer_values = [medians[name] for name in peers if name in medians]
        if ours in medians and peer_values:
            best = max(peer_values) if measure.higher_is_better else min(peer_values)
            row.append(ratio_cell(medians[ours], best, measure))
        else:
            row.append("-")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    load = os.getloadavg()
    print(f"\nmock IdP vs peers: medians of {rounds} interleaved rounds, {os.cpu_count()} cores, load {load[0]:.2f}")
    for row in rows:
        print(
            "  "
            + "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per figure")
    args = parser.parse_args()
    os.chdir(ROOT)
    contenders = installed()
    results: dict[str, list[list[float]]] = {contender.name: [] for contender in contenders}
    for number in range(args.rounds):
        # Rotate the order each round: no contender always runs first (or right after a JVM).
        order = contenders[number % len(contenders) :] + contenders[: number % len(contenders)]
        for contender in order:
            try:
                results[contender.name].append(one_round(contender, args.seconds))
            except (RuntimeError, OSError, subprocess.CalledProcessError, KeyError, httpx.HTTPError) as exc:
                print(f"bench: {contender.name}, round {number + 1}: {exc}", flush=True)
        print(f"bench: round {number + 1}/{args.rounds} done", flush=True)
    names = [contender.name for contender in contenders]
    print_table(names, results, args.rounds, {contender.name for contender in contenders[1:] if contender.ours})


if __name__ == "__main__":
    main()
