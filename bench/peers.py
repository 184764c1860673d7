"""The contenders of `bench/bench_peers.py`: this project's mock IdP and its peers.

Each contender says how it is installed (into `.tools/peers/`, from its own registry), how
it is started on a given port, and which requests the bench repeats: discovery (cold start),
a token request that can be sent again and again unchanged (wrk replays one request), and
the JWKS. A peer that cannot be installed is reported in one line and left out.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "peers"
NODE_BIN = ROOT / ".tools" / "node" / "node_modules" / ".bin"

OIDC_PROVIDER_MOCK = "0.4.8"  # PyPI; needs Python >= 3.12
NAVIKT = "6.0.2"  # Maven Central, no.nav.security:mock-oauth2-server (bench/peers/navikt-pom.xml)
OAUTH2_MOCK_SERVER = "9.3.0"  # npm; needs Node >= 22.12 (`make node`)

# The bench's own confidential client: the sandbox realm has no service account, and
# client_credentials is the one grant every peer but oidc-provider-mock answers unchanged.
BENCH_CLIENT = {
    "clientId": "bench-service",
    "enabled": True,
    "publicClient": False,
    "clientAuthenticatorType": "client-secret",
    "secret": "bench-secret",
    "standardFlowEnabled": False,
    "serviceAccountsEnabled": True,
    "defaultClientScopes": ["profile", "roles", "basic", "email"],
}


class InstallError(RuntimeError):
    """A peer could not be installed; the message is the one line the bench prints."""


@dataclass
class Request:
    """One request wrk repeats: ``body`` set means a form POST."""

    url: str
    body: str | None = None


@dataclass
class Running:
    """What the bench needs of a started contender."""

    discovery: str
    token: Request
    jwks: str


@dataclass
class Contender:
    name: str
    install: Callable[[], None]
    command: Callable[[int, Path], list[str]]
    urls: Callable[[int], Running]
    env: Callable[[int], dict[str, str]] = field(default=lambda port: {})
    # After start, before timing: e.g. a refresh token obtained through a login.
    prepare: Callable[[Running], Running] = field(default=lambda running: running)
    note: str = ""
    # This project's own (a variant of the mock): a column of its own, never the best peer.
    ours: bool = False


def _run(command: list[str], what: str, cwd: Path = ROOT) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InstallError(f"{what}: {last[0]}")


# -- this project -------------------------------------------------------------------


def _realm_file(state: Path) -> Path:
    realm = json.loads((ROOT / "realms" / "sandbox.json").read_text(encoding="utf-8"))
    realm["clients"].append(BENCH_CLIENT)
    path = state / "bench-realm.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    return path


def _mock_idp_command(port: int, state: Path) -> list[str]:
    realm = _realm_file(state)
    return [sys.executable, "-m", "mock_idp", "--realm", str(realm), "--port", str(port), "--state-dir", str(state)]


def _mock_idp_urls(port: int) -> Running:
    realm = f"http://localhost:{port}/realms/sandbox"
    oidc = f"{realm}/protocol/openid-connect"
    return Running(
        discovery=f"{realm}/.well-known/openid-configuration",
        token=Request(
            f"{oidc}/token", "grant_type=client_credentials&client_id=bench-service&client_secret=bench-secret"
        ),
        jwks=f"{oidc}/certs",
    )


# `mock-idp --workers 2`: two processes on the port, their state in a Redis of the bench's own
# (one for the whole run, emptied before each start so every round starts cold).

_redis: list[Any] = []  # the RedisServer, once started


def _install_workers() -> None:
    from sandbox.testing.redis_server import RedisServer, redis_server_missing

    missing = redis_server_missing()
    if missing:
        raise InstallError(missing)
    if not _redis:
        _redis.append(RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-"))).start())
        atexit.register(_redis[0].stop)


def _workers_command(port: int, state: Path) -> list[str]:
    import redis

    server = _redis[0]
    redis.Redis.from_url(server.url).flushdb()
    return [*_mock_idp_command(port, state), "--workers", "2", "--store", server.url]


# -- oidc-provider-mock (Python) ------------------------------------------------------


def _python312() -> str:
    """A Python >= 3.12 that runs: one pyenv installed, else on PATH (a pyenv shim may not run)."""
    pyenv = (
        subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        if shutil.which("pyenv")
        else ""
    )
    candidates = sorted(glob.glob(f"{pyenv or os.path.expanduser('~/.pyenv')}/versions/3.1[2-9]*/bin/python"))
    candidates += [found for name in ("python3.13", "python3.12") if (found := shutil.which(name))]
    for candidate in candidates:
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    raise InstallError("oidc-provider-mock needs Python >= 3.12, and none is on PATH or in pyenv")


OPM_VENV = TOOLS / "oidc-provider-mock"


def _install_opm() -> None:
    if (OPM_VENV / f".installed-{OIDC_PROVIDER_MOCK}").exists():
        return
    if not (OPM_VENV / "bin" / "pip").exists():
        _run([_python312(), "-m", "venv", str(OPM_VENV)], "oidc-provider-mock: venv")
    _run(
        [str(OPM_VENV / "bin" / "pip"), "install", "-q", f"oidc-provider-mock=={OIDC_PROVIDER_MOCK}"],
        "oidc-provider-mock",
    )
    (OPM_VENV / f".installed-{OIDC_PROVIDER_MOCK}").touch()


def _opm_urls(port: int) -> Running:
    base = f"http://localhost:{port}"
    return Running(f"{base}/.well-known/openid-configuration", Request(f"{base}/oauth2/token"), f"{base}/jwks")


def _opm_prepare(running: Running) -> Running:
    # It has no client_credentials grant; its refresh tokens are reusable (authlib's default), so
    # wrk can replay one refresh request. The code comes from its authorize form (any subject).
    base = running.discovery.removesuffix("/.well-known/openid-configuration")
    query = "client_id=bench&redirect_uri=http://localhost/cb&response_type=code&scope=openid"
    answer = httpx.post(f"{base}/oauth2/authorize?{query}", data={"sub": "alice"})
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = httpx.post(
        f"{base}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://localhost/cb",
            "client_id": "bench",
            "client_secret": "x",
        },
    ).json()
    body = f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}&client_id=bench&client_secret=x"
    return Running(running.discovery, Request(running.token.url, body), running.jwks)


# -- navikt mock-oauth2-server (JVM) --------------------------------------------------

NAVIKT_LIB = TOOLS / "navikt" / "lib"


def _install_navikt() -> None:
    if glob.glob(str(NAVIKT_LIB / f"mock-oauth2-server-{NAVIKT}.jar")):
        return
    if not shutil.which("java"):
        raise InstallError("navikt mock-oauth2-server: no `java` on PATH (Debian: default-jre-headless)")
    if not shutil.which("mvn"):
        raise InstallError("navikt mock-oauth2-server: no `mvn` on PATH (Debian: maven)")
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(ROOT / "bench" / "peers" / "navikt-pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={NAVIKT_LIB}",
            "-DincludeScope=runtime",
        ],
        "navikt mock-oauth2-server",
    )


def _navikt_urls(port: int) -> Running:
    base = f"http://localhost:{port}/default"
    body = "grant_type=client_credentials&client_id=bench-service&client_secret=bench-secret&scope=bench"
    return Running(f"{base}/.well-known/openid-configuration", Request(f"{base}/token", body), f"{base}/jwks")


# -- oauth2-mock-server (Node) --------------------------------------------------------

OMS_DIR = TOOLS / "oauth2-mock-server"
OMS_MAIN = OMS_DIR / "node_modules" / "oauth2-mock-server" / "dist" / "oauth2-mock-server.mjs"


def _install_oms() -> None:
    if OMS_MAIN.exists():
        return
    if not (NODE_BIN / "node").exists():
        raise InstallError("oauth2-mock-server: Node 22 is not installed: run `make node`")
    env_path = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    command = ["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(OMS_DIR)]
    result = subprocess.run(
        [*command, f"oauth2-mock-server@{OAUTH2_MOCK_SERVER}"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": env_path},
    )
    if result.returncode != 0 or not OMS_MAIN.exists():
        raise InstallError(f"oauth2-mock-server: npm install failed: {result.stderr.strip()[-200:]}")


def _oms_urls(port: int) -> Running:
    base = f"http://localhost:{port}"
    body = "grant_type=client_credentials&client_id=bench-service&client_secret=bench-secret&scope=bench"
    return Running(f"{base}/.well-known/openid-configuration", Request(f"{base}/token", body), f"{base}/jwks")


CONTENDERS = [
    Contender("mock_idp", lambda: None, _mock_idp_command, _mock_idp_urls, note="this project", ours=True),
    Contender(
        "mock_idp --workers 2 (Redis)",
        _install_workers,
        _workers_command,
        _mock_idp_urls,
        note="this project, two processes",
        ours=True,
    ),
    Contender(
        f"oidc-provider-mock {OIDC_PROVIDER_MOCK}",
        _install_opm,
        lambda port, state: [str(OPM_VENV / "bin" / "oidc-provider-mock"), "--port", str(port)],
        _opm_urls,
        prepare=_opm_prepare,
        note="Python; token = refresh grant",
    ),
    Contender(
        f"navikt {NAVIKT}",
        _install_navikt,
        lambda port, state: [
            "java",
            "-cp",
            f"{NAVIKT_LIB}/*",
            "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt",
        ],
        _navikt_urls,
        env=lambda port: {"SERVER_PORT": str(port)},
        note="JVM",
    ),
    Contender(
        f"oauth2-mock-server {OAUTH2_MOCK_SERVER}",
        _install_oms,
        lambda port, state: [str(NODE_BIN / "node"), str(OMS_MAIN), "-a", "127.0.0.1", "-p", str(port)],
        _oms_urls,
        note="Node",
    ),
]


def installed() -> list[Contender]:
    """The contenders that are (or could now be) installed; one line for each that is not."""
    ready = []
    for contender in CONTENDERS:
        try:
            contender.install()
        except (InstallError, OSError) as exc:
            print(f"bench: skipping {contender.name}: {exc}", flush=True)
            continue
        ready.append(contender)
    return ready
