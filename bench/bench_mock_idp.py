"""Benchmark the standalone mock IdP on loopback (a script, not a timed test).

Prints: seconds from process start to a 200 from discovery, and /token
throughput for the authorization_code and refresh_token grants. Codes are
collected first (through /auth with a live SSO cookie, untimed); only the
/token calls are timed. Requests are sequential over one keep-alive
connection, so the figures are per-connection latency-bound throughput.

    .venv/bin/python bench/bench_mock_idp.py [--codes 300] [--refreshes 500]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mock_idp.pkce import s256  # noqa: E402
from sandbox.testing.headless import BrowserCookieJar  # noqa: E402

REDIRECT = "http://localhost:8000/auth/callback"
AUTH = ("sandbox-proxy", "sandbox-proxy-secret")
VERIFIER = "bench-" + "v" * 50


def start(state_dir: str) -> tuple[subprocess.Popen[str], str, float]:
    started = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "mock_idp",
        "--realm",
        str(REPO / "realms" / "sandbox.json"),
        "--port",
        "0",
        "--state-dir",
        state_dir,
    ]
    process = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    match = re.search(r"at (http://\S+)", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit("mock IdP did not start")
    issuer = match.group(1)
    while True:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return process, issuer, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.005)


def collect_codes(http: httpx.Client, oidc: str, count: int) -> list[str]:
    params = {
        "client_id": AUTH[0],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile email",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    page = http.get(f"{oidc}/auth", params=params)
    action = unescape(re.search(r'id="kc-form-login"[^>]*action="([^"]+)"', page.text).group(1))
    responses = [http.post(action, data={"username": "alice", "password": "alice"})]
    responses += [http.get(f"{oidc}/auth", params=params) for _ in range(count - 1)]  # SSO: straight to a code
    return [parse_qs(urlsplit(r.headers["location"]).query)["code"][0] for r in responses]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=300)
    parser.add_argument("--refreshes", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        process, issuer, ready = start(state_dir)
        try:
            oidc = f"{issuer}/protocol/openid-connect"
            with httpx.Client(
                follow_redirects=False, cookies=BrowserCookieJar()
            ) as http:  # the IdP's cookies are Secure
                codes = collect_codes(http, oidc, args.codes)
                begin = time.perf_counter()
                for code in codes:
                    response = http.post(
                        f"{oidc}/token",
                        auth=AUTH,
                        data={
                            "grant_type": "authorization_code",
                            "code": code,
                            "redirect_uri": REDIRECT,
                            "code_verifier": VERIFIER,
                        },
                    )
                    assert response.status_code == 200, response.text
                code_seconds = time.perf_counter() - begin
                refresh_token = response.json()["refresh_token"]
                begin = time.perf_counter()
                for _ in range(args.refreshes):
                    response = http.post(
                        f"{oidc}/token", auth=AUTH, data={"grant_type": "refresh_token", "refresh_token": refresh_token}
                    )
                    assert response.status_code == 200, response.text
                    refresh_token = response.json()["refresh_token"]  # rotation: each token is single use
                refresh_seconds = time.perf_counter() - begin
        finally:
            process.terminate()
            process.wait(timeout=10)
    rows = [
        ("startup to ready (discovery 200)", f"{ready:.2f} s", ""),
        (
            "token: authorization_code",
            f"{rate(args.codes, code_seconds)} req/s",
            f"{args.codes} sequential, {code_seconds * 1000 / args.codes:.2f} ms each",
        ),
        (
            "token: refresh_token (rotating)",
            f"{rate(args.refreshes, refresh_seconds)} req/s",
            f"{args.refreshes} sequential, {refresh_seconds * 1000 / args.refreshes:.2f} ms each",
        ),
    ]
    print(f"mock IdP benchmark ({issuer}, Python {sys.version.split()[0]})")
    for name, value, note in rows:
        print(f"  {name:<34} {value:>14}   {note}")


if __name__ == "__main__":
    main()
