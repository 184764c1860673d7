"""Is a TCP port already taken on this machine?"""

from __future__ import annotations

import socket


def port_in_use(port: int) -> bool:
    """True when something listens on the port (IPv4 any-address, or localhost over IPv6).

    SO_REUSEADDR lets the bind succeed over TIME_WAIT leftovers of a previous run, so only
    a live listener counts as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    if socket.has_ipv6:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            try:
                return sock.connect_ex(("::1", port)) == 0
            except OSError:
                return False
    return False


def free_port() -> int:
    """A port the OS says is free right now (for tests and benches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_conflict(*ports: int) -> str | None:
    """A one-line complaint about the first port in use, or None when all are free."""
    for port in ports:
        if port_in_use(port):
            return f"port {port} is already in use; stop what listens there or choose another port"
    return None
