"""Flows and their steps, kept in a bounded history, with live subscribers.

Steps are ordered by ``seq`` (taken when a hop *starts*, so a server-side call made
while the browser waits on a callback sorts after that callback) and published with
``rev`` (taken when a hop is *recorded*), which is what ``since=`` and live views follow.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import operator
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.trace.explain import explain

log = logging.getLogger("sandbox.trace")

# "upstream": the MCP server behind the proxy in upstream mode (--upstream, --upstream-command).
PARTICIPANTS = ("client", "browser", "proxy", "idp", "upstream")
LABELS = {
    "client": "MCP client",
    "browser": "Browser",
    "proxy": "Proxy",
    "idp": "IdP",
    "upstream": "Upstream MCP server",
}
LEG_NAMES = {"client": "client", "browser": "browser", "proxy": "proxy", "idp": "IdP", "upstream": "upstream"}
# Without a proxy the same participant is just the MCP server.
NATIVE_LEG_NAMES = {**LEG_NAMES, "proxy": "MCP server"}


REPETITIVE_KINDS = frozenset({"mcp_call", "upstream_mcp"})
RENDERED = ("url", "params", "response", "jwts", "note", "duration_ms")


def leg_of(source: str, target: str, mode: str = "proxy") -> str:
    names = NATIVE_LEG_NAMES if mode == "native-dcr" else LEG_NAMES
    first, second = sorted((source, target), key=PARTICIPANTS.index)
    return f"{names[first]}↔{names[second]}"


@dataclass
class Step:
    kind: str
    source: str
    target: str
    seq: int
    started: float
    method: str = ""
    url: str = ""
    status: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    jwts: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    duration_ms: float | None = None
    rev: int = 0
    flow_id: str = ""
    # An MCP call's step is recorded on every call and rarely read, so what it shows
    # (RENDERED: its masked details, its duration) may be left to this, run at the first read.
    render: Callable[[], Step] | None = field(default=None, repr=False, compare=False)

    def realize(self) -> None:
        """Fill in the details ``render`` leaves for later (idempotent: two readers make the same)."""
        if (render := self.render) is not None:
            try:
                made = render()
            except Exception:
                # One step that cannot be shown must not take every trace view down with it.
                log.exception("trace: could not render step %s (%s)", self.seq, self.kind)
                self.note, self.render = "(could not be shown: see the sandbox's log)", None
                return
            for name in RENDERED:
                setattr(self, name, getattr(made, name))
            self.render = None  # and the raw hop it held goes with it

    def to_dict(self, mode: str = "proxy") -> dict[str, Any]:
        self.realize()
        about = explain(self.kind)
        return {
            "seq": self.seq,
            "rev": self.rev,
            "flow_id": self.flow_id,
            "time": self.started,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.started))
            + f".{int(self.started % 1 * 1000):03d}Z",
            "kind": self.kind,
            "title": about.title,
            "leg": leg_of(self.source, self.target, mode),
            "source": self.source,
            "target": self.target,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "params": self.params,
            "response": self.response,
            "jwts": self.jwts,
            "note": self.note,
            "explanation": about.text,
            "rfc": about.rfc,
            "duration_ms": self.duration_ms,
        }


@dataclass
class Flow:
    id: str
    mode: str
    opened: float
    steps: list[Step] = field(default_factory=list)
    client_id: str | None = None
    user: str | None = None
    authorized: bool = False  # an authorization request has been seen
    updated: float = 0.0
    dropped_steps: int = 0
    evicted: bool = False
    # No step before this index is of REPETITIVE_KINDS: where the step cap looks for one to drop,
    # so a flow at its cap does not walk its whole authorization story again on every call.
    plain_steps: int = field(default=0, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode,
            "opened": self.opened,
            "updated": self.updated,
            "client_id": self.client_id,
            "user": self.user,
            "steps": len(self.steps),
            "dropped_steps": self.dropped_steps,
            "kinds": [step.kind for step in self.steps],
        }

    def to_dict(self, since: int = 0) -> dict[str, Any]:
        data = self.summary()
        data["participants"] = [{"id": p, "label": LABELS[p]} for p in PARTICIPANTS]
        data["steps"] = [step.to_dict(self.mode) for step in self.steps if step.rev > since]
        data["step_count"] = len(self.steps)
        return data


def _drop_one(flow: Flow) -> None:
    """Keep the authorization story; drop the oldest repetitive MCP call (or the proxy's relay
    of one to the upstream: several per call in upstream mode), else the oldest step."""
    steps = flow.steps
    index = next((i for i in range(flow.plain_steps, len(steps)) if steps[i].kind in REPETITIVE_KINDS), None)
    del steps[0 if index is None else index]
    flow.plain_steps = len(steps) if index is None else index  # None: not one of them is repetitive
    flow.dropped_steps += 1


class Subscription:
    """A live feed of recorded steps for one consumer (the SSE view); slow readers lose events."""

    def __init__(self, recorder: FlowRecorder, loop: asyncio.AbstractEventLoop, size: int = 1000) -> None:
        self.recorder = recorder
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(size)

    def push(self, event: dict[str, Any] | None) -> None:
        def put() -> None:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(event)

        try:
            self.loop.call_soon_threadsafe(put)
        except RuntimeError:  # the consumer's loop is gone
            self.recorder.unsubscribe(self)

    async def get(self) -> dict[str, Any] | None:
        return await self.queue.get()

    def close(self) -> None:
        self.recorder.unsubscribe(self)


class FlowRecorder:
    """Thread-safe store of the last ``max_flows`` flows, each capped at ``max_steps`` steps."""

    def __init__(self, *, max_flows: int = 50, max_steps: int = 500, mode: str = "proxy", enabled: bool = True) -> None:
        self.max_flows = max(1, max_flows)
        self.max_steps = max(10, max_steps)
        self.mode = mode
        self.enabled = enabled
        self._flows: OrderedDict[str, Flow] = OrderedDict()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._rev = 0
        self._subscribers: list[Subscription] = []

    # -- writing ------------------------------------------------------------------

    def next_seq(self) -> int:
        return next(self._seq)

    def open_flow(self, at: float | None = None) -> Flow:
        now = at or time.time()
        flow = Flow(id=uuid.uuid4().hex[:12], mode=self.mode, opened=now, updated=now)
        with self._lock:
            self._flows[flow.id] = flow
            while len(self._flows) > self.max_flows:
                _, oldest = self._flows.popitem(last=False)
                oldest.evicted = True
        return flow

    def add(self, flow: Flow, step: Step) -> None:
        with self._lock:
            if flow.evicted:
                return
            self._rev += 1
            step.rev = self._rev
            step.flow_id = flow.id
            steps = flow.steps
            if steps and steps[-1].seq > step.seq:
                at = bisect.bisect_right(steps, step.seq, key=operator.attrgetter("seq"))
                steps.insert(at, step)
                flow.plain_steps = min(flow.plain_steps, at)
            else:
                steps.append(step)
            if len(steps) > self.max_steps:
                _drop_one(flow)
            flow.updated = time.time()
            self._flows.move_to_end(flow.id)
            subscribers = list(self._subscribers) if self._subscribers else None
        if subscribers:
            event = {"flow": flow.summary(), "step": step.to_dict(flow.mode)}
            for subscriber in subscribers:
                subscriber.push(event)

    def clear(self) -> None:
        with self._lock:
            for flow in self._flows.values():
                flow.evicted = True
            self._flows.clear()
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.push({"cleared": True})

    # -- reading ------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._rev

    def flows(self) -> list[Flow]:
        """Newest activity first."""
        with self._lock:
            return list(reversed(self._flows.values()))

    def get(self, flow_id: str) -> Flow | None:
        with self._lock:
            return self._flows.get(flow_id)

    def snapshot(self, since: int = 0) -> dict[str, Any]:
        with self._lock:
            flows = [
                flow.to_dict(since)
                for flow in reversed(self._flows.values())
                if since == 0 or any(step.rev > since for step in flow.steps)
            ]
            return {
                "mode": self.mode,
                "enabled": self.enabled,
                "revision": self._rev,
                "max_flows": self.max_flows,
                "flows": flows,
            }

    # -- live ---------------------------------------------------------------------

    def subscribe(self, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        subscription = Subscription(self, loop or asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    def close(self) -> None:
        with self._lock:
            subscribers, self._subscribers = list(self._subscribers), []
        for subscriber in subscribers:
            subscriber.push(None)
