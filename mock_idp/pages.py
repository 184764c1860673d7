"""HTML pages with Keycloak's element ids (string.Template + html.escape, no Jinja2)."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources
from string import Template

from starlette.responses import HTMLResponse

_NO_CACHE = {"Cache-Control": "no-store, must-revalidate, max-age=0", "X-Frame-Options": "SAMEORIGIN"}


@cache
def _template(name: str) -> Template:
    return Template(resources.files("mock_idp").joinpath("templates", name).read_text(encoding="utf-8"))


def fragment(name: str, /, raw: dict[str, str] | None = None, **values: str) -> str:
    """``templates/<name>``, a piece of a page (a field, a list item); ``values`` are escaped, ``raw`` are not."""
    return _template(name).substitute({k: escape(v) for k, v in values.items()} | (raw or {}))


def render(
    name: str,
    *,
    title: str,
    realm_display: str,
    status_code: int = 200,
    raw: dict[str, str] | None = None,
    **values: str,
) -> HTMLResponse:
    """Render ``templates/<name>`` inside the page frame; ``values`` are escaped, ``raw`` are not."""
    body = fragment(name, raw, **values)
    page = _template("base.html").substitute(title=escape(title), realm_display=escape(realm_display), body=body)
    return HTMLResponse(page, status_code=status_code, headers=_NO_CACHE)


def message_page(
    realm_display: str, message: str, *, status_code: int = 400, heading: str = "We are sorry..."
) -> HTMLResponse:
    return render(
        "message.html",
        title=heading,
        realm_display=realm_display,
        status_code=status_code,
        heading=heading,
        message=message,
    )
