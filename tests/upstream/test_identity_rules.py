"""Identity header rules: defaults, the TOML file, the flags, and values that cannot break a request."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.upstream.identity import DEFAULT_HEADERS, HeaderRuleError, IdentityHeaders, header_safe

ALICE = {
    "sub": "f1",
    "preferred_username": "alice",
    "email": "alice@example.org",
    "realm_access": {"roles": ["mcp-user", "mcp-admin"]},
    "address": {"country": "PT"},
}


def test_defaults_carry_user_email_roles_and_scopes() -> None:
    headers = IdentityHeaders().values(ALICE, ["openid", "profile"])
    assert headers == {
        "X-Forwarded-User": "alice",
        "X-Forwarded-Email": "alice@example.org",
        "X-Forwarded-Roles": "mcp-user,mcp-admin",
        "X-Forwarded-Scopes": "openid profile",
    }


def test_set_remove_and_rename_from_flags() -> None:
    headers = IdentityHeaders.from_rules(
        ["X-User-Id=sub", "x-forwarded-email=", "X-Forwarded-Roles:X-Roles", "X-Country=address.country"]
    )
    assert headers.values(ALICE, []) == {
        "X-Forwarded-User": "alice",
        "X-Roles": "mcp-user,mcp-admin",
        "X-User-Id": "f1",
        "X-Country": "PT",
    }


def test_a_claim_the_token_lacks_sends_no_header() -> None:
    assert "X-Forwarded-Email" not in IdentityHeaders().values({"preferred_username": "bob"}, [])


def test_file_rules_come_before_flag_rules(tmp_path: Path) -> None:
    file = tmp_path / "headers.toml"
    file.write_text(
        '[headers]\n"X-User-Id" = "sub"\n"X-Forwarded-Scopes" = ""\n[rename]\n"X-Forwarded-User" = "X-User"\n'
    )
    headers = IdentityHeaders.from_rules(["X-User-Id=email"], file)
    assert headers.mapping == {
        "X-Forwarded-Email": "email",
        "X-Forwarded-Roles": "roles",
        "X-User": "preferred_username",
        "X-User-Id": "email",
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("X-Nope", "must be NAME=CLAIM"),
        ("Bad Name=sub", "not a valid header name"),
        ("Authorization=sub", "reserved"),
        ("X-Missing:X-Other", "no header 'X-Missing' to rename"),
        ("X-Forwarded-User:Cookie", "reserved"),
    ],
)
def test_bad_rules_name_the_rule(rule: str, message: str) -> None:
    with pytest.raises(HeaderRuleError, match=message) as failed:
        IdentityHeaders.from_rules([rule])
    assert "\n" not in str(failed.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[headers\n", "not valid TOML"),
        ("[other]\n", "unknown table"),
        ("[headers]\nX = 3\n", "must map header names to strings"),
    ],
)
def test_bad_files_say_why(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "headers.toml"
    file.write_text(content)
    with pytest.raises(HeaderRuleError, match=message):
        IdentityHeaders.from_rules([], file)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(HeaderRuleError, match=r"headers\.toml: No such file"):
        IdentityHeaders.from_rules([], tmp_path / "headers.toml")


def test_claim_values_cannot_forge_a_header() -> None:
    value = IdentityHeaders({"X-User": "preferred_username"}).values(
        {"preferred_username": "eve\r\nX-Forwarded-User: alice"}, []
    )["X-User"]
    assert "\r" not in value and "\n" not in value
    assert header_safe("José") == "Jos%C3%A9"
    assert header_safe("plain text, ok") == "plain text, ok"


def test_defaults_are_not_mutated_by_rules() -> None:
    IdentityHeaders.from_rules(["X-Forwarded-User="])
    assert "X-Forwarded-User" in DEFAULT_HEADERS
