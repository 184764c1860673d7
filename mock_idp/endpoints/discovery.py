"""The routes of a realm's discovery documents (mock_idp/metadata.py) and Keycloak's realm info."""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mock_idp.endpoints import idp_of
from mock_idp.metadata import documents


async def realm_info(request: Request) -> JSONResponse:
    """``GET /realms/{realm}``: what Keycloak answers there."""
    # Here, not at the top: cryptography's serialization package costs ~12 ms of start-up.
    from cryptography.hazmat.primitives import serialization

    idp = idp_of(request)
    der = idp.keys.key.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return JSONResponse(
        {
            "realm": idp.realm.name,
            "public_key": base64.b64encode(der).decode("ascii"),
            "token-service": f"{idp.issuer}/protocol/openid-connect",
            "account-service": f"{idp.issuer}/account",
            "tokens-not-before": 0,
        }
    )


def routes(prefix: str) -> list[Route]:
    served = [Route(path, document, methods=["GET"]) for path, document in documents(prefix).items()]
    return [Route(prefix, realm_info, methods=["GET"]), *served]
