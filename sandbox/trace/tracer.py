"""Hop -> steps: classify, correlate, mask and record. Shared by the middleware and the upstream hooks."""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

from sandbox.trace.correlate import Correlator
from sandbox.trace.hops import MCP_CALL, Classifier, Hop, Kind, mcp_kind
from sandbox.trace.masking import decode_jwt, mask_header, mask_json, mask_params, mask_url
from sandbox.trace.recorder import Flow, FlowRecorder, Step

if TYPE_CHECKING:
    from sandbox.trace.wire import RawCall

log = logging.getLogger("sandbox.trace")

# The flow of the request being served: the proxy's outgoing calls made while serving it belong to it.
current_flow: contextvars.ContextVar[Flow | None] = contextvars.ContextVar("sandbox_trace_flow", default=None)

SHOWN_REQUEST_HEADERS = ("authorization", "mcp-session-id", "mcp-protocol-version", "user-agent")
SHOWN_RESPONSE_HEADERS = ("www-authenticate", "location", "content-type", "mcp-session-id", "set-cookie")
TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")
# An MCP call is kept raw (wire.RawCall) until its step is read only while it is this small
# (headers trimmed to the shown ones); a bigger one is rendered at once, so the history's
# memory stays bounded as when every step was rendered on the spot.
MAX_DEFERRED_BYTES = 4 * 1024


class Tracer:
    def __init__(self, recorder: FlowRecorder, classifier: Classifier, correlator: Correlator) -> None:
        self.recorder = recorder
        self.classifier = classifier
        self.correlator = correlator
        # One bound method for every call's step to render with (RawCall.renderer), not one each.
        self._render_call = self._render

    def begin(self, hop: Hop) -> Flow | None:
        """At request start: bind what the request carries, so calls made while serving it find the flow."""
        kind = self.classifier.classify(hop)
        if kind is None or kind.kind in ("mcp_call", "unauthorized", "step_up"):
            return None
        try:
            flow = self.correlator.flow_for(hop, kind.kind)
            if flow is not None:
                self.correlator.bind(flow, hop, kind.kind)
            return flow
        except Exception:  # tracing must never break a request
            log.exception("trace: could not correlate %s %s", hop.method, hop.path)
            return None

    def finish(self, hop: Hop, flow: Flow | None = None, kind: Kind | None = None) -> None:
        """Record ``hop``, its steps rendered (masked) at once."""
        try:
            kind = kind or self.classifier.classify(hop)
            if kind is None:
                return
            flow = flow or self.correlator.flow_for(hop, kind.kind)
            if flow is None:
                return
            self.correlator.bind(flow, hop, kind.kind)
            for step in build_steps(hop, kind, self.classifier.upstream_client_id, self.recorder):
                self.recorder.add(flow, step)
        except Exception:
            log.exception("trace: could not record %s %s", hop.method, hop.path)

    def record_call(self, call: RawCall) -> None:
        """An MCP call: its flow found by its bearer token now, its step rendered (masked) when read.

        Unlike other hops it binds nothing: it hands no value on to later hops, and its
        token's keys were bound when the token was issued. Its JSON-RPC body names no
        correlation value either, so the flow is found before anything of it is decoded.
        A refusal (401, 403) starts or steps up an authorization: a hop like any other.
        """
        try:
            kind = mcp_kind(call.status)
            if kind is not MCP_CALL:
                self.finish(call.hop(), kind=kind)
                return
            if call.query_string:  # a query may name a correlation value: read it as any hop's
                # Without its body, which names none: a JSON-RPC body's fields (code, state,
                # client_id) must not pick the flow.
                flow = self.correlator.flow_for(call.hop(with_body=False), kind.kind)
            else:
                flow = self.correlator.call_flow(call.authorization)
            if flow is None:
                return
            call.renderer = self._render_call
            step = Step(
                kind.kind,
                kind.source,
                kind.target,
                call.seq,
                call.started,
                call.method,
                status=call.status,
                render=call,
            )
            if call.held_bytes() > MAX_DEFERRED_BYTES:
                step.realize()
            self.recorder.add(flow, step)
        except Exception:
            log.exception("trace: could not record %s %s", call.method, call.path)

    def _render(self, call: RawCall) -> Step:
        """An MCP call's step, rendered (masked) at its first read."""
        return build_steps(call.hop(), MCP_CALL, self.classifier.upstream_client_id, self.recorder)[0]


def _headers(headers: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: mask_header(name, headers[name]) for name in names if name in headers}


def _jwts(source: dict[str, Any], names: tuple[str, ...]) -> list[dict[str, Any]]:
    found = []
    for name in names:
        value = source.get(name)
        if isinstance(value, str) and (decoded := decode_jwt(name, value)):
            found.append(decoded)
    return found


def _mcp_params(hop: Hop) -> dict[str, Any]:
    body = hop.json[0] if isinstance(hop.json, list) and hop.json else hop.json
    if not isinstance(body, dict):
        return {}
    params: dict[str, Any] = {"jsonrpc_method": body.get("method", "(response)")}
    call = body.get("params")
    if isinstance(call, dict) and isinstance(call.get("name"), str):
        params["name"] = call["name"]
    return params


def _note(hop: Hop, kind: str, params: dict[str, Any]) -> str:
    status = hop.status
    if kind in ("unauthorized", "step_up"):
        return "WWW-Authenticate: " + hop.response_headers.get("www-authenticate", "")[:200]
    if kind in ("mcp_call", "upstream_mcp"):
        return " ".join(str(params[k]) for k in ("jsonrpc_method", "name") if k in params)
    if kind == "registration" and isinstance(hop.response_json, dict) and "client_id" in hop.response_json:
        return f"client_id={hop.response_json['client_id']}"
    if kind == "as_metadata" and isinstance(hop.response_json, dict) and "issuer" in hop.response_json:
        # MCP 2026-07-28: a client binds its registration and tokens to this issuer (SEP-2352).
        return f"issuer={hop.response_json['issuer']} · registration and tokens are bound to it"
    if kind == "cimd_fetch" and isinstance(hop.response_json, dict):
        return f"client_name={hop.response_json.get('client_name')} · redirect_uris={hop.response_json.get('redirect_uris')}"
    if kind in ("authorize", "idp_authorize"):
        return f"client_id={params.get('client_id', '?')} · PKCE {params.get('code_challenge_method', 'none')}" + (
            f" · resource={params['resource']}" if "resource" in params else ""
        )
    if kind == "consent_decided":
        return f"action={params.get('action', '?')}"
    if kind == "idp_login":
        if status in (302, 303):
            return "login accepted"
        if "kc-form-login" in hop.response_text:
            return "login refused: form shown again"
        return "login accepted; the IdP asks for consent" if "kc-oauth" in hop.response_text else ""
    if status and status >= 400:
        error = hop.response_json.get("error") if isinstance(hop.response_json, dict) else None
        return f"{status} {error or ''}".strip()
    return ""


# Upstream mode: every header the proxy sends upstream is shown, but for these, which describe the hop.
HOP_HEADERS = frozenset(
    {"host", "content-length", "accept", "accept-encoding", "connection", "content-type", "user-agent"}
)


def build_steps(hop: Hop, kind: Kind, upstream_client_id: str, recorder: FlowRecorder) -> list[Step]:
    """The hop's own step, then what it implies: the proxy's redirect upstream, the tokens it issued."""
    params = _request_params(hop, kind)
    body = hop.response_json if isinstance(hop.response_json, dict) else None
    response: dict[str, Any] = {"headers": _headers(hop.response_headers, SHOWN_RESPONSE_HEADERS)}
    if body is not None:
        response["body"] = mask_json(body)
    jwts: list[dict[str, Any]] = []
    if hop.bearer and (decoded := decode_jwt("bearer", hop.bearer)):
        jwts.append(decoded)
    jwts += _jwts(hop.params, ("refresh_token", "token"))
    issued = _jwts(body, TOKEN_FIELDS) if body else []
    steps = [
        hop_step(
            hop,
            kind,
            url=mask_url(hop.url),
            params=params,
            response=response,
            jwts=jwts + ([] if kind.kind == "token_exchange" else issued),
            note=_note(hop, kind.kind, params),
        )
    ]
    location = hop.location_params
    if (
        kind.kind in ("authorize", "consent_decided")
        and location.get("client_id") == upstream_client_id
        and "state" in location
    ):
        steps.append(_upstream_redirect(hop, location, recorder))
    if kind.kind == "token_exchange" and issued:
        steps.append(_token_issued(hop, kind, body, issued, recorder))
    return steps


def hop_step(hop: Hop, kind: Kind, **details: Any) -> Step:
    """The step of the hop itself; ``details`` are the masked ones (or the ``render`` that makes them)."""
    return Step(
        kind=kind.kind,
        source=kind.source,
        target=kind.target,
        seq=hop.seq,
        started=hop.started,
        method=hop.method,
        status=hop.status,
        duration_ms=hop.duration_ms,
        **details,
    )


def _request_params(hop: Hop, kind: Kind) -> dict[str, Any]:
    """What the request carried, masked: MCP params, JSON or form fields, and the headers worth showing."""
    if kind.kind in ("mcp_call", "upstream_mcp", "step_up"):
        params = _mcp_params(hop)
    elif isinstance(hop.json, dict) and not hop.form:
        params = mask_json(hop.json)
        params.update(mask_params(hop.query))
    else:
        params = mask_params(hop.params)
    request_headers = _headers(hop.headers, SHOWN_REQUEST_HEADERS)
    if kind.kind == "upstream_mcp":
        request_headers = _headers(hop.headers, tuple(name for name in hop.headers if name not in HOP_HEADERS))
    if request_headers.get("authorization") or kind.kind != "mcp_call":
        params = {**params, **{f"header {k}": v for k, v in request_headers.items() if k != "user-agent"}}
    return params


def _upstream_redirect(hop: Hop, location: dict[str, str], recorder: FlowRecorder) -> Step:
    """The proxy sending the browser on to the IdP with its own transaction state."""
    return Step(
        kind="upstream_redirect",
        source="proxy",
        target="browser",
        seq=recorder.next_seq(),
        started=hop.started,
        method="302",
        url=mask_url(hop.location or ""),
        status=hop.status,
        params=mask_params(location),
        note=f"state = transaction {location['state'][:8]}… · PKCE {location.get('code_challenge_method', 'none')}",
    )


def _token_issued(
    hop: Hop, kind: Kind, body: dict[str, Any] | None, issued: list[dict[str, Any]], recorder: FlowRecorder
) -> Step:
    """The tokens a token exchange handed back, as a step of their own."""
    claims = issued[0]["claims"]
    return Step(
        kind="token_issued",
        source=kind.target,
        target="client",
        seq=recorder.next_seq(),
        started=hop.started,
        method="",
        url="",
        status=hop.status,
        params={
            "token_type": body.get("token_type"),
            "expires_in": body.get("expires_in"),
            "scope": body.get("scope"),
        }
        if body
        else {},
        jwts=issued,
        note=f"iss={claims.get('iss')} aud={claims.get('aud')}",
    )
