"""Which flow a hop belongs to: one flow per authorization.

A flow opens at a 401 (or at the first hop of an authorization nobody announced).
Discovery and registration attach to the flow their HTTP connection opened; the
authorization request binds the client_id; from there the values each hop hands to
the next chain the rest: FastMCP's transaction id (consent ``txn_id``, upstream
``state``), the client's ``state``, the IdP's login ``session_code``, the upstream and
proxy authorization codes, and the ``jti`` of every token issued. MCP calls attach by
their bearer token's ``jti`` (decoded without verification), else its ``client_id``.
"""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any

from sandbox.trace.hops import Hop, bearer_of
from sandbox.trace.masking import jwt_parts
from sandbox.trace.recorder import Flow, FlowRecorder

Key = tuple[str, str]

DISCOVERY_KINDS = frozenset({"unauthorized", "prm_discovery", "as_metadata", "registration"})
AUTHORIZE_KINDS = frozenset({"authorize", "idp_authorize"})
TOKEN_USE_KINDS = frozenset(
    {"mcp_call", "refresh", "revocation", "upstream_refresh", "upstream_revocation", "userinfo"}
)
BACKGROUND_KINDS = frozenset({"jwks", "upstream_discovery"})
# A discovery hop on a new connection joins an open flow this recent, else opens its own.
DISCOVERY_WINDOW = 120.0
BACKGROUND_WINDOW = 10.0
_VALUE_KEYS = {"code": "code", "state": "state", "txn_id": "state", "session_code": "session"}
_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token", "token")
# Authorization values whose flow call_flow remembers; past this many it starts afresh. A longer
# value is looked up every time, not kept: a forged token padded to a header's limit (~1 MB,
# refused by the body limits before its signature is checked) would otherwise be held here.
MAX_CALL_TOKENS = 1024
MAX_REMEMBERED_AUTHORIZATION = 4 * 1024


# Pure functions of the token, asked for the same bearer on every MCP call.
@functools.lru_cache(maxsize=256)
def token_key(token: str) -> Key:
    parts = jwt_parts(token)
    if parts is not None and isinstance(parts[1].get("jti"), str):
        return ("jti", parts[1]["jti"])
    return ("token", hashlib.blake2b(token.encode(), digest_size=12).hexdigest())


@functools.lru_cache(maxsize=256)
def token_client_id(token: str) -> str | None:
    parts = jwt_parts(token)
    if parts is None:
        return None
    claims = parts[1]
    value = claims.get("client_id") or claims.get("azp")
    return value if isinstance(value, str) else None


class Correlator:
    def __init__(self, recorder: FlowRecorder, *, upstream_client_id: str = "", max_keys: int = 20000) -> None:
        self.recorder = recorder
        self.upstream_client_id = upstream_client_id
        self.max_keys = max_keys
        self._keys: dict[Key, Flow] = {}
        self._clients: dict[str, Flow] = {}
        self._last: Flow | None = None
        # An MCP call's Authorization value -> the flow its token's key named. Such a key's flow
        # is fixed once bound, so it is looked up once per token, not once per call; a key bound
        # anew or forgotten forgets this, an evicted flow (a full history, a cleared trace) is
        # looked up again.
        self._calls: dict[bytes, Flow] = {}

    # -- lookups -------------------------------------------------------------------

    def _get(self, key: Key) -> Flow | None:
        flow = self._keys.get(key)
        return None if flow is None or flow.evicted else flow

    def _bind(self, key: Key, flow: Flow) -> None:
        if self._keys.get(key, flow) is not flow:
            self._calls.clear()  # a call remembered may have found its flow by this key
        self._keys[key] = flow
        if len(self._keys) > self.max_keys:
            self._calls.clear()
            self._keys = {k: f for k, f in self._keys.items() if not f.evicted}
            while len(self._keys) > self.max_keys:  # still full: forget the oldest half
                for stale in list(self._keys)[: self.max_keys // 2]:
                    del self._keys[stale]

    def _by_client(self, client_id: str | None) -> Flow | None:
        flow = self._clients.get(client_id or "")
        return None if flow is None or flow.evicted else flow

    def request_keys(self, hop: Hop) -> list[Key]:
        params = hop.params  # a property that builds a dict: once
        keys = [(_VALUE_KEYS[name], value) for name, value in params.items() if name in _VALUE_KEYS and value]
        for name in ("refresh_token", "token"):
            if value := params.get(name):
                keys.append(token_key(value))
        if bearer := hop.bearer:
            keys.append(token_key(bearer))
        return keys

    def flow_for(self, hop: Hop, kind: str) -> Flow | None:
        """The flow this hop belongs to; opens one where a new authorization starts."""
        for key in self.request_keys(hop):
            if flow := self._get(key):
                return self._touch(flow)
        return self._unkeyed(hop, kind)

    def call_flow(self, authorization: bytes | None) -> Flow | None:
        """``flow_for`` an MCP call that carries nothing but this Authorization value (no query)."""
        if authorization is not None:
            flow = self._calls.get(authorization)
            if flow is not None:
                if not flow.evicted:
                    return self._touch(flow)
                del self._calls[authorization]  # its flow is gone (a full history, a cleared trace)
        value = "" if authorization is None else authorization.decode("latin-1")
        if authorization is not None and (bearer := bearer_of(value)) and (flow := self._get(token_key(bearer))):
            if len(authorization) <= MAX_REMEMBERED_AUTHORIZATION:
                if len(self._calls) >= MAX_CALL_TOKENS:
                    self._calls.clear()
                self._calls[authorization] = flow
            return self._touch(flow)
        headers = {} if authorization is None else {"authorization": value}
        return self._unkeyed(
            Hop(method="POST", url="", path="", query={}, headers=headers, seq=0, started=0.0), "mcp_call"
        )

    def _unkeyed(self, hop: Hop, kind: str) -> Flow | None:
        """The flow of a hop that carries no value bound to one: by kind, client or recency."""
        now = time.time()
        if kind in DISCOVERY_KINDS:
            flow = self._get(("peer", hop.peer)) if hop.peer else None
            if flow is None or flow.authorized:
                # A 401 starts a new authorization; other discovery joins an open one.
                flow = None if kind == "unauthorized" else self._open_discovering(now)
            return self._touch(flow or self.recorder.open_flow(now))
        if kind in AUTHORIZE_KINDS:
            client_id = hop.params.get("client_id")
            flow = self._by_client(client_id)
            if flow is None or flow.authorized:
                flow = self._open_discovering(now, client_id)
            flow = flow or self.recorder.open_flow(now)
            flow.authorized = True
            if client_id and client_id != self.upstream_client_id:
                flow.client_id = client_id
                self._clients[client_id] = flow
            return self._touch(flow)
        if kind in TOKEN_USE_KINDS:
            token = hop.bearer or hop.params.get("refresh_token") or hop.params.get("token")
            flow = self._by_client(token_client_id(token) if token else hop.caller_client_id)
            if flow is not None:
                return self._touch(flow)
        if kind in BACKGROUND_KINDS or kind in TOKEN_USE_KINDS:
            last = self._last
            if last is not None and not last.evicted and now - last.updated < BACKGROUND_WINDOW:
                return last
            return None
        return None

    def _open_discovering(self, now: float, client_id: str | None = None) -> Flow | None:
        """The newest flow still discovering (no authorization yet) for this client, if recent."""
        for flow in self.recorder.flows():
            if now - flow.opened > DISCOVERY_WINDOW:
                break
            if not flow.authorized and (flow.client_id is None or flow.client_id == client_id):
                return flow
        return None

    def _touch(self, flow: Flow) -> Flow:
        self._last = flow
        return flow

    # -- binding --------------------------------------------------------------------

    def bind(self, flow: Flow, hop: Hop, kind: str) -> None:
        """Remember every value this hop hands on, so the hops that present it find this flow."""
        if hop.peer and kind in DISCOVERY_KINDS:
            self._bind(("peer", hop.peer), flow)
        for source in (hop.params, hop.location_params):
            for name, value in source.items():
                if name in _VALUE_KEYS and value:
                    self._bind((_VALUE_KEYS[name], value), flow)
        body = hop.response_json if isinstance(hop.response_json, dict) else {}
        for name in _TOKEN_FIELDS:
            token = body.get(name)
            if isinstance(token, str) and token:
                self._bind(token_key(token), flow)
        if session := session_code(hop.response_text):
            self._bind(("session", session), flow)
        client_id = body.get("client_id") if kind == "registration" else None
        if isinstance(client_id, str) and client_id:
            flow.client_id = client_id
            self._clients[client_id] = flow
        user = _user_of(hop, body)
        if user and not flow.user:
            flow.user = user


def session_code(html: str) -> str | None:
    marker = "session_code="
    start = html.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = start
    while end < len(html) and (html[end].isalnum() or html[end] in "-_"):
        end += 1
    return html[start:end] or None


def _user_of(hop: Hop, body: dict[str, Any]) -> str | None:
    if hop.form.get("username") and hop.status in (302, 303):
        return hop.form["username"]
    for name in ("id_token", "access_token"):
        value = body.get(name)
        if isinstance(value, str) and (parts := jwt_parts(value)):
            user = parts[1].get("preferred_username")
            if isinstance(user, str):
                return user
    return None
