"""The trace's routes, on a bare app: JSON, one flow, Mermaid, 404s, clear, the page."""

import httpx
import pytest
from starlette.applications import Starlette
from trace_support import proxy_flow, record

from sandbox.trace.views import trace_routes


@pytest.fixture
async def traced(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    app = Starlette(routes=trace_routes(tracer.recorder))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield tracer.recorder, http


async def test_trace_json_lists_flows_with_their_steps(traced):
    recorder, http = traced
    data = (await http.get("/sandbox/trace.json")).json()
    assert data["mode"] == "proxy" and data["revision"] == recorder.revision
    (flow,) = data["flows"]
    step = flow["steps"][0]
    assert {"timestamp", "leg", "method", "url", "status", "params", "jwts", "explanation", "rfc", "kind"} <= set(step)
    assert (await http.get("/sandbox/trace.json", params={"since": recorder.revision})).json()["flows"] == []


@pytest.mark.parametrize("since", ["junk", "-1", "1.5", "١"])  # noqa: RUF001 (a non-ASCII digit on purpose)
@pytest.mark.parametrize("path", ["/sandbox/trace.json", "/sandbox/trace/events"])
async def test_a_bad_since_is_a_400_naming_it(traced, path, since):
    _, http = traced
    answer = await http.get(path, params={"since": since})
    assert answer.status_code == 400
    assert (
        answer.json()["error"] == "invalid_request" and "since must be a revision" in answer.json()["error_description"]
    )


async def test_one_flow_as_json_and_as_mermaid(traced):
    recorder, http = traced
    flow_id = recorder.flows()[0].id
    one = await http.get(f"/sandbox/trace/{flow_id}.json")
    assert one.status_code == 200 and one.json()["id"] == flow_id
    mermaid = await http.get(f"/sandbox/trace/{flow_id}.mmd")
    assert mermaid.status_code == 200 and mermaid.headers["content-type"].startswith("text/plain")
    assert mermaid.text.startswith("sequenceDiagram\n")


@pytest.mark.parametrize(
    "path", ["/sandbox/trace/nope.json", "/sandbox/trace/nope.mmd", "/sandbox/trace/%3Cscript%3E.json"]
)
async def test_unknown_flows_are_a_json_404(traced, path):
    _, http = traced
    response = await http.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_delete_clears_the_history(traced):
    _recorder, http = traced
    assert (await http.delete("/sandbox/trace")).json() == {"cleared": True}
    assert (await http.get("/sandbox/trace.json")).json()["flows"] == []


async def test_the_page_is_self_contained(traced):
    _, http = traced
    page = await http.get("/sandbox/trace")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "EventSource" in page.text and "/sandbox/trace/events" in page.text
    assert "https://" not in page.text and "http://" not in page.text.replace("http://localhost", "")  # no CDN
