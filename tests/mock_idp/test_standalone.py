"""The standalone command: a real uvicorn server driven by authlib (an RP library nobody here wrote),
and the CLI's one-line errors."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet
from mockidp_support import PROXY_REDIRECT, REALM_PATH, REPO, form_action

from sandbox.testing.headless import BrowserCookieJar


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mock_idp", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[str]:
    """``python -m mock_idp`` on a free loopback port; yields the issuer it printed."""
    process = _start(["--realm", str(REALM_PATH), "--port", "0", "--state-dir", str(tmp_path / "state")])
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"at (http://\S+)", banner)
        assert match, banner + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        issuer = match.group(1)
        for _ in range(100):
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_authlib_relying_party_completes_the_whole_flow(standalone: str):
    issuer = standalone
    meta = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert meta["issuer"] == issuer
    jwks = KeySet.import_key_set(httpx.get(meta["jwks_uri"]).json())
    rp = OAuth2Client(
        client_id="sandbox-proxy",
        client_secret="sandbox-proxy-secret",
        redirect_uri=PROXY_REDIRECT,
        scope="openid profile email",
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier, nonce = generate_token(64), generate_token(20)
    url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)

    with httpx.Client(follow_redirects=False, cookies=BrowserCookieJar()) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and 'id="kc-form-login"' in page.text
        back = browser.post(form_action(page.text), data={"username": "alice", "password": "alice"})
    assert back.status_code == 302 and back.headers["location"].startswith(PROXY_REDIRECT)

    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=back.headers["location"], code_verifier=verifier, state=state
    )
    # OIDC Core §3.1.3.7 ID token validation: signature via the JWKS, iss, aud, exp, nonce, at_hash.
    id_token = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": "sandbox-proxy"},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    registry.validate(id_token.claims)
    claims = id_token.claims
    assert claims["at_hash"] == create_half_hash(token["access_token"], "RS256").decode()
    assert claims["preferred_username"] == "alice"

    userinfo = rp.get(meta["userinfo_endpoint"]).json()
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == "alice@example.com"

    old_refresh = token["refresh_token"]
    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert refreshed["access_token"] != token["access_token"] and refreshed["refresh_token"] != old_refresh

    # As in Keycloak: the proxy is not the access token's audience, so it learns nothing about
    # it; its own refresh token it may introspect.
    assert rp.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json() == {
        "active": False
    }
    introspection = rp.introspect_token(meta["introspection_endpoint"], token=refreshed["refresh_token"]).json()
    assert introspection["active"] is True and "http://localhost:8000/mcp" in introspection["aud"]

    assert (
        rp.revoke_token(
            meta["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
        ).status_code
        == 200
    )
    after = rp.introspect_token(meta["introspection_endpoint"], token=refreshed["refresh_token"]).json()
    assert after == {"active": False}


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_idp", *args], cwd=REPO, capture_output=True, text=True, timeout=30
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_cli_missing_realm_file(tmp_path: Path):
    line = _one_error_line(_run(["--realm", str(tmp_path / "missing.json"), "--port", "0"]))
    assert "missing.json" in line and "cannot read realm file" in line


def test_cli_malformed_realm_names_the_json_path(tmp_path: Path):
    realm = json.loads(REALM_PATH.read_text())
    realm["users"][1]["realmRoles"] = "mcp-user"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(realm))
    line = _one_error_line(_run(["--realm", str(path), "--port", "0"]))
    assert str(path) in line and "$.users[1].realmRoles" in line and "valid list" in line


def test_cli_deeply_nested_realm_file_is_one_line_and_exit_2(tmp_path: Path):
    # json.loads recurses per level: unbounded, this was a RecursionError traceback.
    path = tmp_path / "deep.json"
    path.write_text('{"realm": "r", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = _run(["--realm", str(path), "--port", "0", "--state-dir", str(tmp_path)])
    line = _one_error_line(result)
    assert result.returncode == 2 and "deep.json" in line and "nested deeper than" in line


def test_cli_port_in_use(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = _one_error_line(_run(["--realm", str(REALM_PATH), "--port", str(port), "--state-dir", str(tmp_path)]))
    assert f"127.0.0.1:{port}" in line and "port already in use" in line


def test_cli_without_realm_serves_the_packaged_realm_from_any_directory(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_idp", "--port", "0", "--state-dir", str(tmp_path / "state")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "realm 'sandbox' at http://localhost:" in banner, banner + (
            process.stderr.read() if process.poll() is not None and process.stderr else ""
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_a_second_idp_on_a_state_dir_in_use_is_one_line_and_the_first_keeps_serving(standalone, tmp_path):
    """The second's compaction at start renamed a new journal over the one the first kept
    appending to, so the first's acknowledged writes were gone at the next start."""
    result = _run(["--realm", str(REALM_PATH), "--port", "0", "--state-dir", str(tmp_path / "state")])
    line = _one_error_line(result)
    assert result.returncode == 2 and "state.json is in use by another running mock IdP" in line, line
    assert httpx.get(f"{standalone}/.well-known/openid-configuration", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "-5"], "expected a port from 0 to 65535"),
        (["--port", "70000"], "expected a port from 0 to 65535"),
        (["--state-dir", ""], "--state-dir: must not be empty"),
        (["--public-host", "bad host/x"], "expected a host name or an IP address"),
    ],
)
def test_cli_a_bad_port_or_an_empty_state_dir_is_argparse_s_error_not_a_traceback(args, said):
    """--port 70000 was OverflowError from bind(); --state-dir '' wrote the keys into the working directory."""
    result = _run(args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert said in result.stderr.strip().splitlines()[-1], result.stderr
