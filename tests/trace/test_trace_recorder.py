"""The recorder: bounded history, per-flow step cap, ordering, ``since``, live subscribers."""

import asyncio
import random
import threading

from sandbox.trace.recorder import REPETITIVE_KINDS, FlowRecorder, Step


def step(recorder: FlowRecorder, kind: str = "mcp_call", seq: int | None = None) -> Step:
    return Step(
        kind=kind,
        source="client",
        target="proxy",
        seq=seq if seq is not None else recorder.next_seq(),
        started=0.0,
        method="POST",
        url="/mcp",
    )


def test_history_keeps_the_newest_flows_and_drops_the_oldest():
    recorder = FlowRecorder(max_flows=3)
    flows = [recorder.open_flow() for _ in range(5)]
    for flow in flows:
        recorder.add(flow, step(recorder))
    kept = [flow.id for flow in recorder.flows()]
    assert kept == [flows[4].id, flows[3].id, flows[2].id]
    assert recorder.get(flows[0].id) is None and flows[0].evicted
    recorder.add(flows[0], step(recorder))  # late hops of a dropped flow go nowhere
    assert recorder.get(flows[0].id) is None
    assert len(recorder.snapshot()["flows"]) == 3


def test_activity_keeps_a_flow_in_the_history():
    recorder = FlowRecorder(max_flows=2)
    first, second = recorder.open_flow(), recorder.open_flow()
    recorder.add(second, step(recorder))
    recorder.add(first, step(recorder))  # first is now the most recently active
    third = recorder.open_flow()
    assert recorder.get(first.id) is first and recorder.get(second.id) is None and recorder.get(third.id) is third


def test_step_cap_drops_repetitive_mcp_calls_before_the_authorization_story():
    recorder = FlowRecorder(max_steps=10)
    flow = recorder.open_flow()
    for kind in ("unauthorized", "prm_discovery", "registration", "authorize"):
        recorder.add(flow, step(recorder, kind))
    for _ in range(20):
        recorder.add(flow, step(recorder))
    kinds = [s.kind for s in flow.steps]
    assert len(kinds) == 10 and kinds[:4] == ["unauthorized", "prm_discovery", "registration", "authorize"]
    assert flow.dropped_steps == 14


def test_step_cap_drops_upstream_hops_before_the_authorization_story():
    recorder = FlowRecorder(max_steps=10)
    flow = recorder.open_flow()
    for kind in ("unauthorized", "registration", "authorize"):
        recorder.add(flow, step(recorder, kind))
    for _ in range(12):
        recorder.add(flow, step(recorder, "upstream_mcp"))
    assert [s.kind for s in flow.steps][:3] == ["unauthorized", "registration", "authorize"]
    assert len(flow.steps) == 10 and flow.dropped_steps == 5


def test_steps_sort_by_start_even_when_recorded_late():
    recorder = FlowRecorder()
    flow = recorder.open_flow()
    callback_seq = recorder.next_seq()
    inner = step(recorder, "upstream_token_exchange")  # starts after, finishes first
    recorder.add(flow, inner)
    recorder.add(flow, step(recorder, "callback", seq=callback_seq))
    assert [s.kind for s in flow.steps] == ["callback", "upstream_token_exchange"]


def test_since_returns_only_what_was_recorded_after_a_revision():
    recorder = FlowRecorder()
    old, new = recorder.open_flow(), recorder.open_flow()
    recorder.add(old, step(recorder, "unauthorized"))
    mark = recorder.revision
    recorder.add(new, step(recorder, "registration"))
    flows = recorder.snapshot(since=mark)["flows"]
    assert [f["id"] for f in flows] == [new.id]
    assert [s["kind"] for s in flows[0]["steps"]] == ["registration"]


async def test_subscribers_get_each_step_even_from_another_thread():
    recorder = FlowRecorder()
    subscription = recorder.subscribe()
    flow = recorder.open_flow()
    worker = threading.Thread(target=lambda: recorder.add(flow, step(recorder, "registration")))
    worker.start()
    worker.join()
    async with asyncio.timeout(2):  # a hang guard: the event is already queued
        event = await subscription.get()
    assert event["flow"]["id"] == flow.id and event["step"]["kind"] == "registration"
    subscription.close()
    recorder.add(flow, step(recorder))
    await asyncio.sleep(0.05)
    assert subscription.queue.empty()


def test_clear_forgets_every_flow():
    recorder = FlowRecorder()
    flow = recorder.open_flow()
    recorder.add(flow, step(recorder))
    recorder.clear()
    assert recorder.flows() == [] and recorder.get(flow.id) is None


def test_step_cap_drops_as_a_scan_from_the_start_would():
    """The cap remembers where the authorization story ends; steps recorded late and sorted into
    it (a repetitive one before that point too) are dropped exactly as a full scan would."""
    rng = random.Random(7)
    recorder = FlowRecorder(max_steps=10)
    flow = recorder.open_flow()
    expected: list[Step] = []
    for _ in range(400):
        kind = rng.choice(["mcp_call", "mcp_call", "upstream_mcp", "refresh", "authorize", "jwks"])
        seq = recorder.next_seq() - (rng.randrange(30) if rng.random() < 0.2 else 0)
        new = step(recorder, kind, seq=seq)
        recorder.add(flow, new)
        # The reference: sorted in by seq, then the first repetitive step (else the first) dropped.
        at = next((i for i, s in enumerate(expected) if s.seq > seq), len(expected))
        expected.insert(at, new)
        if len(expected) > 10:
            del expected[next((i for i, s in enumerate(expected) if s.kind in REPETITIVE_KINDS), 0)]
        assert flow.steps == expected
