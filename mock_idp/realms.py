"""The realms one mock IdP serves, and their documents: everything ``create_app`` builds
before Starlette. The standalone mock answers discovery and the JWKS from these alone, so its
cold start imports neither Starlette nor the endpoints (mock_idp/serving.py)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Required, TypedDict, Unpack
from urllib.parse import quote

from mock_idp import metadata
from mock_idp.clock import Clock
from mock_idp.documents import JsonDocument
from mock_idp.idp import IdentityProvider
from mock_idp.keys import default_state_dir, ensure_dir
from mock_idp.master import ADMIN_PASSWORD, ADMIN_USERNAME, MASTER, master_realm
from mock_idp.realm import Realm
from mock_idp.realm_file import RealmError, load_realm

log = logging.getLogger("mock_idp")


def prefix(idp: IdentityProvider) -> str:
    """Where a realm's URLs start below the app."""
    return f"/realms/{quote(idp.realm.name, safe='')}"


@dataclass(frozen=True)
class Realms:
    idp: IdentityProvider  # the realm file's
    master: IdentityProvider
    # Each document's path below the app -> its realm's IdP and the document (DocumentShortcut's table).
    documents: dict[str, tuple[IdentityProvider, JsonDocument]]

    @property
    def by_name(self) -> dict[str, IdentityProvider]:
        return {self.idp.realm.name: self.idp, MASTER: self.master}


class Settings(TypedDict, total=False):
    """The keywords of ``create_app`` and :func:`open_realms` (``mock_idp.app.create_app`` says what each is)."""

    issuer_base: Required[str]
    state_dir: str | os.PathLike[str] | None
    clock: Clock | None
    admin_username: str  # default ADMIN_USERNAME
    admin_password: str  # default ADMIN_PASSWORD
    store: str | None


def open_realms(realm: str | os.PathLike[str] | dict[str, Any] | Realm, **settings: Unpack[Settings]) -> Realms:
    """``create_app``'s realms (its arguments, the same errors), without the app."""
    # As a signature with these keywords would: a misspelt one is an error, not a default.
    unknown = sorted(settings.keys() - (Settings.__required_keys__ | Settings.__optional_keys__))
    if unknown or "issuer_base" not in settings:
        raise TypeError(f"unexpected keyword argument(s) {unknown}" if unknown else "missing keyword issuer_base")
    # A private copy: the admin API edits users and roles in place.
    loaded = realm.model_copy(deep=True) if isinstance(realm, Realm) else load_realm(realm)
    if loaded.name == MASTER:
        raise RealmError(
            f"realm {MASTER!r}: that name is the admin realm the mock creates itself (as Keycloak does); rename the realm"
        )
    if loaded.unknown_fields:
        log.warning(
            "realm %r: the mock IdP ignores %d field(s) it does not implement: %s",
            loaded.name,
            len(loaded.unknown_fields),
            ", ".join(loaded.unknown_fields),
        )
    state_dir, store, issuer_base = settings.get("state_dir"), settings.get("store"), settings["issuer_base"]
    directory = ensure_dir(Path(state_dir) if state_dir is not None else default_state_dir(loaded.name))
    clock = settings.get("clock") or Clock()  # one time for every realm, as in one Keycloak
    idp = IdentityProvider(loaded, issuer_base, directory, clock, store)
    admin = master_realm(settings.get("admin_username", ADMIN_USERNAME), settings.get("admin_password", ADMIN_PASSWORD))
    master = IdentityProvider(admin, issuer_base, ensure_dir(directory / MASTER), clock, store)
    documents = {path: (each, doc) for each in (idp, master) for path, doc in metadata.documents(prefix(each)).items()}
    return Realms(idp, master, documents)
