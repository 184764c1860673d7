"""Keycloak on PostgreSQL: a `postgres://USER:PASS@HOST:PORT/DB` URL as Keycloak's own `--db-*` options.

With a database of its own, Keycloak keeps realm changes, users and sessions across restarts
without the dev-file database of `--keycloak-keep-state`, and several Keycloaks could share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from pydantic import PostgresDsn, TypeAdapter, ValidationError

# Keycloak's JDBC driver takes these schemes' meaning; driver-suffixed ones (postgresql+asyncpg)
# name Python drivers, which would only confuse.
SCHEMES = ("postgres", "postgresql")
DEFAULT_PORT = 5432
_DSN = TypeAdapter(PostgresDsn)


@dataclass(frozen=True)
class PostgresDatabase:
    jdbc_url: str
    username: str
    # Never in repr(): the settings and the launcher may be logged.
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> PostgresDatabase:
        """Parse `postgres://USER[:PASS]@HOST[:PORT]/DB`; ValueError names what is wrong, without the password."""
        scheme = urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise ValueError(f"must be a URL postgres://USER:PASS@HOST:PORT/DB, not scheme {scheme!r}")
        try:
            dsn = _DSN.validate_python(url)
        except ValidationError:
            raise ValueError("must be a URL postgres://USER:PASS@HOST:PORT/DB") from None
        hosts = dsn.hosts()
        database = (dsn.path or "").lstrip("/")
        if not database:
            raise ValueError("names no database: postgres://USER:PASS@HOST:PORT/DB")
        usernames = {host["username"] for host in hosts}
        if len(usernames) != 1 or None in usernames:
            raise ValueError("names no user: postgres://USER:PASS@HOST:PORT/DB")
        addresses = ",".join(f"{host['host']}:{host['port'] or DEFAULT_PORT}" for host in hosts)
        query = f"?{dsn.query}" if dsn.query else ""
        password = hosts[0]["password"]
        return cls(
            jdbc_url=f"jdbc:postgresql://{addresses}/{database}{query}",
            username=unquote(str(hosts[0]["username"])),
            password=None if password is None else unquote(password),
        )

    def options(self) -> list[str]:
        """Runtime options for kc.sh (`--db=postgres` itself is a build option, set by the launcher)."""
        return [f"--db-url={self.jdbc_url}", f"--db-username={self.username}"]

    def environment(self) -> dict[str, str]:
        # The password goes by environment, the same option as --db-password, so `ps` never shows it.
        return {} if self.password is None else {"KC_DB_PASSWORD": self.password}
