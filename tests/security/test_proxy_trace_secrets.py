"""The flow trace needs no credentials, so nothing in it may be a working credential.

RFC 9700 §4.14 (and RFC 6749 §10.3/§10.5): tokens, codes and session ids are secrets of
their holder. The IdP's session id in particular is a login: as ``session_state`` in the
callback, ``sid`` in tokens or Keycloak's session cookies, the trace shows its start only.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from proxy_attacks import register

SESSION_VALUE = re.compile(r'(?:session_state=|"session_state": "|"sid": ")([^&"\s]+)')


@pytest.mark.mock_only  # the mock's own side (login, callback with session_state) is traced
async def test_trace_shows_no_whole_session_id(sandbox):
    client = await register(sandbox)
    grant = await client.tokens()
    async with httpx.AsyncClient() as http:
        trace = (await http.get(f"{sandbox.base_url}/sandbox/trace.json")).json()
    text = json.dumps(trace, ensure_ascii=False)
    shown = SESSION_VALUE.findall(text)
    assert shown, "the flow should show session_state or sid (masked)"
    # A masked value shows its start ("3f2b9c4e…") or nothing ("•••• (5 chars, masked)").
    assert [value for value in shown if not (value.endswith("…") or value.startswith("••••"))] == []
    assert grant["access_token"] not in text and grant["refresh_token"] not in text
