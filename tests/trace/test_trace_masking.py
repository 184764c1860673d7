"""Masking: secrets show nothing, tokens and codes only their start, JWTs decoded without signature."""

import base64

from trace_support import jwt

from sandbox.trace.masking import decode_jwt, mask_header, mask_json, mask_params, mask_url

LONG_TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789"


def test_secrets_show_only_their_length():
    masked = mask_params(
        {"client_secret": "s3cr3t-value", "password": "alice", "code_verifier": LONG_TOKEN, "username": "alice"}
    )
    assert masked["client_secret"] == "•••• (12 chars, masked)"
    assert masked["password"] == "•••• (5 chars, masked)"
    assert LONG_TOKEN[:8] not in masked["code_verifier"]
    assert masked["username"] == "alice"  # not a secret


def test_tokens_and_codes_show_their_first_characters_only():
    masked = mask_params(
        {"code": LONG_TOKEN, "refresh_token": LONG_TOKEN, "access_token": LONG_TOKEN, "state": LONG_TOKEN}
    )
    assert masked["code"] == masked["refresh_token"] == masked["access_token"] == "abcdefgh…"
    assert masked["state"] == LONG_TOKEN  # state is not a credential


def test_short_credentials_are_hidden_entirely():
    assert mask_params({"code": "abc123"})["code"] == "•••• (6 chars, masked)"


def test_nested_json_is_masked_by_key():
    body = {
        "client_id": "c1",
        "client_secret": "very-secret",
        "tokens": [{"id_token": LONG_TOKEN}],
        "registration_access_token": LONG_TOKEN,
    }
    masked = mask_json(body)
    assert masked["client_id"] == "c1"
    assert "very-secret" not in str(masked) and LONG_TOKEN not in str(masked)
    assert masked["tokens"][0]["id_token"] == "abcdefgh…"


def test_urls_have_their_query_masked():
    url = f"http://localhost:5555/callback?code={LONG_TOKEN}&state=xyz&client_secret=hush"
    masked = mask_url(url)
    assert LONG_TOKEN not in masked and "hush" not in masked
    assert masked.startswith("http://localhost:5555/callback?code=abcdefgh…&state=xyz&client_secret=••••")


def test_authorization_and_cookie_headers():
    assert mask_header("Authorization", f"Bearer {LONG_TOKEN}") == "Bearer abcdefgh…"
    basic = "Basic " + base64.b64encode(b"sandbox-proxy:sandbox-proxy-secret").decode()
    shown = mask_header("authorization", basic)
    assert shown.startswith("Basic sandbox-proxy:") and "sandbox-proxy-secret" not in shown
    assert mask_header("cookie", "KEYCLOAK_SESSION=abc; other=def") == "KEYCLOAK_SESSION, other = •••• (masked)"
    assert "abc" not in mask_header("set-cookie", "KEYCLOAK_SESSION=abc; Path=/; HttpOnly")
    assert mask_header("location", f"http://x/cb?code={LONG_TOKEN}") == "http://x/cb?code=abcdefgh…"


def test_jwts_are_decoded_and_their_signature_cut():
    token = jwt({"sub": "u1", "aud": "http://localhost:8000/mcp"}, {"alg": "RS256", "kid": "k1"})
    decoded = decode_jwt("access_token", token)
    assert decoded["header"] == {"alg": "RS256", "kid": "k1"}
    assert decoded["claims"] == {"sub": "u1", "aud": "http://localhost:8000/mcp"}
    assert decoded["signature"] == "(cut)"
    assert token.split(".")[2] not in str(decoded) and token not in str(decoded)


def test_each_step_gets_its_own_copy_of_a_decoded_jwt():
    # Every MCP call's step decodes the same bearer: masked once, then copied for each step.
    token = jwt({"sub": "u1", "realm_access": {"roles": ["mcp-user"]}}, {"alg": "RS256", "kid": "k1"})
    first = decode_jwt("bearer", token)
    first["claims"]["realm_access"]["roles"].append("mcp-admin")
    first["header"]["alg"] = "none"
    again = decode_jwt("bearer", token)
    assert again["claims"]["realm_access"] == {"roles": ["mcp-user"]} and again["header"]["alg"] == "RS256"


def test_non_jwts_are_not_decoded():
    assert decode_jwt("x", "opaque-token") is None
    assert decode_jwt("x", "a.b.c") is None


SESSION_ID = "3f2b9c4e-8d1a-4b7e-9c2f-5a6d7e8f9a0b"


def test_idp_session_ids_show_only_their_start():
    # Whoever holds the whole session id holds the SSO session: it must never show whole.
    url = (
        f"http://localhost:8000/auth/callback?code={LONG_TOKEN}&state=xyz&session_state={SESSION_ID}&iss=http%3A%2F%2Fi"
    )
    assert SESSION_ID not in mask_url(url) and "session_state=3f2b9c4e…" in mask_url(url)
    claims = mask_json({"sub": "u1", "sid": SESSION_ID, "session_state": SESSION_ID})
    assert claims == {"sub": "u1", "sid": "3f2b9c4e…", "session_state": "3f2b9c4e…"}
    cookies = mask_params(
        {
            "KEYCLOAK_IDENTITY": LONG_TOKEN,
            "KEYCLOAK_SESSION": SESSION_ID,
            "AUTH_SESSION_ID": SESSION_ID,
            "AUTH_SESSION_ID_LEGACY": SESSION_ID,
            "KC_RESTART": LONG_TOKEN,
        }
    )
    assert SESSION_ID not in str(cookies) and LONG_TOKEN not in str(cookies)


def test_session_cookies_in_headers_show_their_names_only():
    sent = mask_header(
        "cookie", f"AUTH_SESSION_ID={SESSION_ID}; KEYCLOAK_IDENTITY={LONG_TOKEN}; KC_RESTART={LONG_TOKEN}"
    )
    assert sent == "AUTH_SESSION_ID, KEYCLOAK_IDENTITY, KC_RESTART = •••• (masked)"
    # Several Set-Cookie headers arrive joined by commas; no value of any may show.
    joined = f"KEYCLOAK_IDENTITY={LONG_TOKEN}; Path=/; HttpOnly, KEYCLOAK_SESSION={SESSION_ID}; Path=/"
    assert LONG_TOKEN not in mask_header("set-cookie", joined) and SESSION_ID not in mask_header("set-cookie", joined)


def test_a_decoded_token_masks_its_session_id():
    token = jwt({"sub": "u1", "sid": SESSION_ID}, {"alg": "RS256"})
    assert decode_jwt("id_token", token)["claims"]["sid"] == "3f2b9c4e…"


def test_keycloaks_update_password_fields_are_hidden():
    """password-new and password-confirm slipped past a rule that only looked at the end of the name."""
    shown = mask_params({"password-new": "s3cret-new", "password-confirm": "s3cret-new", "username": "alice"})
    assert "s3cret-new" not in str(shown) and shown["username"] == "alice"
