"""The trace keeps no body over its limit: a long-running sandbox must not grow with its input."""

import httpx

from sandbox.trace.middleware import MAX_BODY


async def test_oversized_bodies_are_not_kept_in_the_trace(sandbox):
    huge_name = "x" * (4 * MAX_BODY)
    async with httpx.AsyncClient() as http:
        registered = await http.post(
            f"{sandbox.base_url}/register",
            json={
                "client_name": huge_name,
                "redirect_uris": ["http://127.0.0.1:4712/callback"],
                "token_endpoint_auth_method": "none",
            },
        )
        trace = await http.get(f"{sandbox.base_url}/sandbox/trace.json")
    # The sandbox refuses a registration over 64 KiB (sandbox/limits.py, and the /register
    # guard of sandbox/proxy_routes.py behind it); the trace, in front, still saw the request.
    assert registered.status_code == 400 and registered.json()["error"] == "invalid_client_metadata"
    # Not a quarter of it: the whole body was dropped, not cut at the limit.
    assert "x" * (MAX_BODY // 4) not in trace.text
    steps = [step for flow in trace.json()["flows"] for step in flow["steps"] if step["kind"] == "registration"]
    assert steps  # the hop itself is still recorded, without its bodies
