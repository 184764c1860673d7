"""``mock-idp [--realm my-realm.json] [--port 8080]``: the mock IdP on its own."""

from __future__ import annotations

import argparse
import errno
import logging
import re
import sys
from typing import TYPE_CHECKING

from mock_idp import ctrl_c, start_up
from mock_idp.digits import parse_decimal

if TYPE_CHECKING:
    from mock_idp.realms import Realms


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mock-idp", description="Keycloak-compatible mock OpenID provider")
    parser.add_argument(
        "--realm",
        default=None,
        help="Keycloak realm export (JSON) (default: the sandbox's realm, shipped in the package)",
    )
    parser.add_argument("--port", type=_port, default=8080, help="port to listen on (default 8080; 0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--public-host", type=_host, default="localhost", help="host name in the issuer URL (default localhost)"
    )
    parser.add_argument("--state-dir", type=_directory, help="signing key and state (default: the user cache dir)")
    parser.add_argument(
        "--store", default="file", help="file (the state dir, default), memory, or redis://HOST:PORT/DB (shared)"
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes serving the port (default 1); more than one needs --store redis://... (shared state)",
    )
    parser.add_argument("--admin-username", default="admin", help="master realm bootstrap admin (default admin)")
    parser.add_argument("--admin-password", default="admin", help="its password (default admin)")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    number = parse_decimal(text)
    if number is None or number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return number


def _port(text: str) -> int:
    number = parse_decimal(text)
    if number is None or number > 65535:  # bind() would raise OverflowError, a traceback
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return number


def _host(text: str) -> str:
    """A DNS name or an IP literal: it is put into the issuer URL as it is ("bad host/x" made one no client parses)."""
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]", text):
        raise argparse.ArgumentTypeError(f"expected a host name or an IP address, got {text!r}")
    return text


def _directory(text: str) -> str:
    if not text.strip():  # Path("") is the working directory: keys written there, and it chmod 0700
        raise argparse.ArgumentTypeError("must not be empty (leave it out for the default)")
    return text


def _default_realm() -> str:
    # The sandbox's realm is this distribution's package data; mock_idp itself stays
    # independent of the sandbox, so only its command line knows where that is.
    from sandbox.default_realm import DEFAULT_REALM_FILE

    return str(DEFAULT_REALM_FILE)


def main(argv: list[str] | None = None) -> int:
    start_up.begin()  # before the imports below (mock_idp/start_up.py says why)
    ctrl_c.remember()  # one Python drops still stops it (mock_idp/ctrl_c.py)
    try:
        return _serve(_parse(argv))
    except KeyboardInterrupt:  # Ctrl-C, at start-up too: quiet, and not a failure
        return 0
    finally:  # a start that failed, or a caller's process after the server: collections back
        start_up.serving()


def _serve(args: argparse.Namespace) -> int:
    from mock_idp import serving
    from mock_idp.realm_file import RealmError, load_realm
    from mock_idp.realms import open_realms
    from mock_idp.sockets import bind_listening_socket
    from mock_idp.storage import StoreError, is_shared

    logging.basicConfig(level=logging.INFO, format="mock-idp: %(message)s")
    if args.workers > 1 and not is_shared(args.store):
        # Each worker's file or memory store would be its own: a code issued by one, redeemed at another, fails.
        print(
            f"mock-idp: error: --workers {args.workers} needs a shared store (--store redis://HOST:PORT/DB):"
            f" with the {args.store} store every worker would keep its own sessions, codes and tokens",
            file=sys.stderr,
        )
        return 2
    realm_file = args.realm or _default_realm()
    try:
        realm = load_realm(realm_file)
        sock = bind_listening_socket(args.host, args.port)
    except RealmError as exc:
        print(f"mock-idp: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        reason = "port already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        print(f"mock-idp: error: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 3
    port = sock.getsockname()[1]
    issuer_base = f"http://{args.public_host}:{port}"
    settings = {
        "issuer_base": issuer_base,
        "state_dir": args.state_dir,
        "admin_username": args.admin_username,
        "admin_password": args.admin_password,
        "store": args.store,
    }
    try:
        realms = open_realms(realm, **settings)
    except StoreError as exc:
        print(f"mock-idp: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mock-idp: error: state directory: {exc.strerror or exc}", file=sys.stderr)
        return 2
    _announce(realms, args.admin_username)
    if args.workers == 1:
        serving.serve(realms, sock)
    else:
        print(f"mock-idp: {args.workers} worker processes, sharing {args.store}", flush=True)
        serving.serve_workers({"realm": realm_file, **settings}, sock, args.workers)
    return 0


def _announce(realms: Realms, admin_username: str) -> None:
    idp = realms.idp
    realm = idp.realm
    print(f"mock-idp: realm {realm.name!r} at {idp.issuer}", flush=True)
    print(f"mock-idp: discovery {idp.issuer}/.well-known/openid-configuration", flush=True)
    for user in realm.users.values():
        roles = ", ".join(user.realm_roles) or "-"
        print(f"mock-idp: user {user.username} (password from realm file; roles: {roles})", flush=True)
    print(
        f"mock-idp: admin API {idp.issuer_base}/admin/realms/{realm.name} (token: master realm, admin-cli, user {admin_username})",
        flush=True,
    )
    print(f"mock-idp: state in {idp.state_dir}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
