"""OAuth 2.0 error responses (RFC 6749 §5.2, RFC 7591 §3.2.2) with Keycloak's statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Imported where a response is made: the standalone mock answers its documents before it loads Starlette.
if TYPE_CHECKING:
    from starlette.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The answer to an unexpected error, a safety net wherever one is caught (mock_idp.app's
# Exception handler, mock_idp.documents' shortcut outside Starlette's error layers).
SERVER_ERROR = {"error": "server_error", "error_description": "Unexpected server error"}


class OAuthError(Exception):
    """Raised anywhere in request handling; rendered as ``{"error", "error_description"}``."""

    def __init__(
        self, error: str, description: str, status_code: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        from starlette.responses import JSONResponse

        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status_code, headers={**NO_STORE, **self.headers})


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description, 400)


def invalid_grant(description: str, status_code: int = 400) -> OAuthError:
    return OAuthError("invalid_grant", description, status_code)


def invalid_client(description: str = "Invalid client or Invalid client credentials") -> OAuthError:
    return OAuthError("invalid_client", description, 401)


def unauthorized_client(description: str) -> OAuthError:
    return OAuthError("unauthorized_client", description, 400)


def body_too_large(limit: int) -> OAuthError:
    return OAuthError("invalid_request", f"Request body exceeds {limit} bytes", 413)


class SpecError(ValueError):
    """Bad input to a mock control method; ``field`` names the offending JSON field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AdminError(Exception):
    """An Admin REST API error, rendered with Keycloak's body for that case."""

    def __init__(self, status_code: int, body: dict[str, object]) -> None:
        super().__init__(str(body))
        self.status_code = status_code
        self.body = body

    def response(self) -> JSONResponse:
        from starlette.responses import JSONResponse

        return JSONResponse(self.body, status_code=self.status_code)


def admin_not_found(message: str) -> AdminError:
    # Keycloak renders a JAX-RS NotFoundException's message as {"error": ...}.
    return AdminError(404, {"error": message})


def admin_conflict(message: str) -> AdminError:
    # ...and its ErrorResponse.exists(...) as {"errorMessage": ...}.
    return AdminError(409, {"errorMessage": message})


def admin_bad_request(message: str, field: str | None = None) -> AdminError:
    body: dict[str, object] = {"errorMessage": message}
    if field is not None:
        body |= {"field": field, "params": [field]}
    return AdminError(400, body)
