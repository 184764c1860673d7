"""The command line's options: every flag of ``python -m sandbox``, and one line for a bad one.

Each flag is also a ``SANDBOX_<NAME>`` setting (sandbox/settings.py); flags win.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# The console script's name; ``python -m sandbox`` passes its own spelling.
PROG = "mcp-oauth-sandbox"
# What ``init`` writes into the current directory.
INIT_REALM_FILE = "sandbox-realm.json"


class StartupError(Exception):
    """A reason the sandbox cannot start, phrased for one line on stderr."""


class OneLineParser(argparse.ArgumentParser):
    # argparse would print the whole usage first; one line names the cause.
    def error(self, message: str) -> None:  # type: ignore[override]
        raise StartupError(f"{message} (see --help)")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="MCP OAuth sandbox: an MCP server behind FastMCP's OAuth proxy, with its own IdP.",
        epilog=f"Every option is also a SANDBOX_<NAME> environment variable; flags win. "
        f"'{prog} init' writes the default realm to ./{INIT_REALM_FILE} for editing.",
    )
    _add_serving(parser)
    _add_features(parser)
    _add_upstream(parser)
    _add_keycloak(parser)
    return parser


def parse_args(argv: list[str] | None, prog: str = PROG) -> dict[str, Any]:
    return {key: value for key, value in vars(build_parser(prog).parse_args(argv)).items() if value is not None}


def _add_serving(parser: argparse.ArgumentParser) -> None:
    """Where and how the sandbox serves, and what it keeps."""
    parser.add_argument("--backend", choices=["mock", "keycloak"], help="identity backend (default: mock)")
    parser.add_argument("--host", help="localhost (default) or 127.0.0.1")
    parser.add_argument(
        "--listen-address",
        metavar="IP",
        help="address the server binds (default: 127.0.0.1; 0.0.0.0 in the container image)",
    )
    parser.add_argument("--port", type=int, help="port to serve on (default: 8000)")
    parser.add_argument(
        "--realm",
        dest="realm_file",
        type=Path,
        help="Keycloak realm JSON (default: the sandbox realm shipped in the package)",
    )
    parser.add_argument(
        "--consent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the proxy's consent screen (default: on)",
    )
    # A string: settings refuse an empty one, which Path would read as the working directory.
    parser.add_argument("--state-dir", help="where tokens, registrations and keys are kept")
    parser.add_argument(
        "--store",
        metavar="file|memory|redis://HOST:PORT/DB",
        help="proxy token store (default: file, survives restarts; redis:// is shared by replicas)",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL clients use, when replicas sit behind a load balancer (default: http://HOST:PORT)",
    )
    parser.add_argument(
        "--state-secret-file",
        type=Path,
        metavar="FILE",
        help="the secret every replica signs and encrypts with (made 0600 if missing; default: in --state-dir)",
    )
    parser.add_argument("--log-level", type=str.lower, choices=["debug", "info", "warning", "error"])


def _add_features(parser: argparse.ArgumentParser) -> None:
    """What the stack does: proxy or native DCR, the trace, your own server, CIMD trust."""
    parser.add_argument(
        "--mode",
        choices=["proxy", "native-dcr"],
        help="proxy: FastMCP's OAuth proxy (default); native-dcr: clients register at the IdP directly",
    )
    parser.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="record every hop of each flow at /sandbox/trace (default: on)",
    )
    parser.add_argument("--trace-history", type=int, help="flows the trace keeps, oldest dropped first (default: 50)")
    parser.add_argument(
        "--server",
        metavar="MODULE:ATTR",
        help="your own FastMCP server to protect instead of the sample tools (e.g. mypkg.server:mcp)",
    )
    parser.add_argument(
        "--cimd-ca",
        type=Path,
        metavar="FILE",
        help="also trust this CA for client metadata documents on loopback HTTPS (default: only <state-dir>/tls/ca.pem)",
    )


def _add_upstream(parser: argparse.ArgumentParser) -> None:
    """Upstream mode: any MCP server behind the proxy."""
    upstream = parser.add_argument_group("Upstream mode (any MCP server behind the proxy)")
    upstream.add_argument(
        "--upstream", metavar="URL", help="a Streamable HTTP MCP server to protect (e.g. http://localhost:3001/mcp)"
    )
    upstream.add_argument(
        "--upstream-command",
        metavar="'CMD ARGS'",
        help="a stdio MCP server to start and protect (e.g. 'npx -y @modelcontextprotocol/server-everything')",
    )
    upstream.add_argument(
        "--upstream-header",
        dest="upstream_headers",
        action="append",
        metavar="RULE",
        help="identity header rule, repeatable: NAME=CLAIM sets, NAME= removes, OLD:NEW renames",
    )
    upstream.add_argument(
        "--upstream-headers-file", type=Path, metavar="FILE", help="TOML file of header rules ([headers], [rename])"
    )
    upstream.add_argument(
        "--upstream-token",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also send the upstream a short-lived JWT minted for it (default: off)",
    )
    upstream.add_argument("--upstream-timeout", type=float, help="seconds to wait for the upstream (default: 60)")


def _add_keycloak(parser: argparse.ArgumentParser) -> None:
    """The Keycloak backend: one already running, or how to launch one."""
    keycloak = parser.add_argument_group("Keycloak backend")
    keycloak.add_argument(
        "--keycloak-url", help="use this running Keycloak (realm already imported) instead of launching one"
    )
    keycloak.add_argument(
        "--keycloak-launcher",
        choices=["auto", "container", "distribution"],
        help="how to launch Keycloak (default: auto: Docker if it answers, else the distribution)",
    )
    keycloak.add_argument(
        "--keycloak-network",
        metavar="NETWORK",
        help="the container launcher's network: bridge (default), host, or an engine network's name",
    )
    keycloak.add_argument("--keycloak-port", type=int, help="Keycloak HTTP port (default: 8080)")
    keycloak.add_argument("--keycloak-management-port", type=int, help="Keycloak health port (default: 9000)")
    keycloak.add_argument(
        "--keycloak-home",
        type=Path,
        help="a Keycloak distribution to run (default: KEYCLOAK_HOME or a cached download)",
    )
    keycloak.add_argument("--keycloak-ready-timeout", type=float, help="seconds to wait for Keycloak (default: 180)")
    keycloak.add_argument(
        "--keycloak-keep-state",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep Keycloak's database between runs (default: fresh each run)",
    )
    keycloak.add_argument(
        "--keycloak-db",
        metavar="postgres://USER:PASS@HOST:PORT/DB",
        help="keep Keycloak's state in this PostgreSQL database (distribution launcher; default: its dev database)",
    )
