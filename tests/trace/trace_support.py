"""Synthetic hops for the trace's unit tests: what the middleware would have seen."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qsl, urlsplit

from sandbox.trace.hops import Hop
from sandbox.trace.tracer import Tracer

BASE = "http://localhost:8000"
IDP = "/idp/realms/sandbox"


def jwt(claims: dict, header: dict | None = None) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header or {'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJlLXRoYXQtbXVzdC1iZS1jdXQ"


def hop(
    method: str,
    url: str,
    *,
    status: int = 200,
    form=None,
    json_body=None,
    headers=None,
    location=None,
    response_json=None,
    response_text: str = "",
    peer: str = "127.0.0.1:50000",
    seq: int | None = None,
) -> Hop:
    parts = urlsplit(url if "://" in url else BASE + url)
    response_headers = {"location": location} if location else {}
    if response_json is not None:
        response_headers["content-type"] = "application/json"
    return Hop(
        method=method,
        url=f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else ""),
        path=parts.path,
        query=dict(parse_qsl(parts.query)),
        headers={k.lower(): v for k, v in (headers or {}).items()},
        seq=seq or 0,
        started=time.time(),
        peer=peer,
        form=form or {},
        json=json_body,
        status=status,
        response_headers=response_headers,
        response_json=response_json,
        response_text=response_text,
    )


def record(tracer: Tracer, h: Hop) -> None:
    """What the middleware does: take a sequence number, bind at request start (non-MCP), record at the end."""
    h.seq = tracer.recorder.next_seq()
    flow = tracer.begin(h)
    tracer.finish(h, flow)


UPSTREAM_SECRET = "sandbox-proxy-secret"


def proxy_flow(n: int, user: str = "alice") -> list:
    """One authorization of client ``n`` through the proxy, in the order a real client goes."""
    peer, browser = f"127.0.0.1:{41000 + n}", f"127.0.0.1:{42000 + n}"
    client_id, txn, upstream_code, proxy_code = (
        f"client-{n}",
        f"txn-{n}-abcdefghijklmnopqrstuvwxyz",
        f"upcode-{n}-abcdefghijklmnopqrstu",
        f"pcode-{n}-abcdefghijklmnopqrstuvw",
    )
    session = f"session{n}abcdefghijklmnop"
    access = jwt(
        {
            "iss": "http://localhost:8000/",
            "aud": "http://localhost:8000/mcp",
            "client_id": client_id,
            "jti": f"at-{n}",
            "sub": f"user-{n}",
        }
    )
    refresh = jwt({"iss": "http://localhost:8000/", "client_id": client_id, "jti": f"rt-{n}", "token_use": "refresh"})
    up_access = jwt(
        {
            "iss": "http://localhost:8000/idp/realms/sandbox",
            "jti": f"up-at-{n}",
            "preferred_username": user,
            "azp": "sandbox-proxy",
        }
    )
    up_refresh = jwt({"jti": f"up-rt-{n}", "typ": "Refresh"})
    basic = "Basic " + base64.b64encode(f"sandbox-proxy:{UPSTREAM_SECRET}".encode()).decode()
    return [
        hop("POST", "/mcp", status=401, json_body={"jsonrpc": "2.0", "method": "initialize", "id": 1}, peer=peer),
        hop(
            "GET",
            "/.well-known/oauth-protected-resource/mcp",
            response_json={"resource": "http://localhost:8000/mcp"},
            peer=peer,
        ),
        hop(
            "GET",
            "/.well-known/oauth-authorization-server",
            response_json={"issuer": "http://localhost:8000/"},
            peer=peer,
        ),
        hop(
            "POST",
            "/register",
            status=201,
            json_body={"redirect_uris": ["http://localhost:5555/callback"]},
            response_json={"client_id": client_id, "client_secret": f"dcr-secret-{n}-abcdefghijkl"},
            peer=peer,
        ),
        hop(
            "GET",
            f"/authorize?response_type=code&client_id={client_id}&state=cs-{n}&code_challenge=ch{n}&code_challenge_method=S256&resource=http://localhost:8000/mcp",
            status=302,
            location=f"http://localhost:8000/consent?txn_id={txn}",
            peer=browser,
        ),
        hop("GET", f"/consent?txn_id={txn}", response_text="<form id=consentForm>", peer=browser),
        hop(
            "POST",
            "/consent",
            status=302,
            form={"txn_id": txn, "action": "approve"},
            location=f"http://localhost:8000{IDP}/protocol/openid-connect/auth?client_id=sandbox-proxy&state={txn}&code_challenge=pc{n}&code_challenge_method=S256",
            peer=browser,
        ),
        hop(
            "GET",
            f"{IDP}/protocol/openid-connect/auth?client_id=sandbox-proxy&state={txn}&code_challenge=pc{n}&code_challenge_method=S256",
            response_text=f'<form id="kc-form-login" action="/login-actions/authenticate?session_code={session}&amp;client_id=sandbox-proxy">',
            peer=browser,
        ),
        hop(
            "POST",
            f"{IDP}/login-actions/authenticate?session_code={session}&client_id=sandbox-proxy",
            status=302,
            form={"username": user, "password": f"{user}-password"},
            location=f"http://localhost:8000/auth/callback?state={txn}&code={upstream_code}",
            peer=browser,
        ),
        hop(
            "GET",
            f"/auth/callback?state={txn}&code={upstream_code}",
            status=302,
            location=f"http://localhost:5555/callback?code={proxy_code}&state=cs-{n}",
            peer=browser,
        ),
        hop(
            "POST",
            f"{IDP}/protocol/openid-connect/token",
            headers={"Authorization": basic},
            form={
                "grant_type": "authorization_code",
                "code": upstream_code,
                "code_verifier": f"proxy-verifier-{n}-abcdefghijklmnopqrstuvwxyz",
            },
            response_json={"access_token": up_access, "refresh_token": up_refresh, "token_type": "Bearer"},
            peer=f"127.0.0.1:{43000 + n}",
        ),
        hop(
            "POST",
            "/token",
            form={
                "grant_type": "authorization_code",
                "code": proxy_code,
                "code_verifier": f"client-verifier-{n}-abcdefghijklmnopqrstuvwxyz",
            },
            response_json={"access_token": access, "refresh_token": refresh, "token_type": "Bearer"},
            peer=peer,
        ),
        hop(
            "POST",
            "/mcp",
            headers={"Authorization": f"Bearer {access}"},
            json_body={"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "greet"}, "id": 2},
            peer=peer,
        ),
    ]
