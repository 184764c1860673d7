"""Flow trace: every hop of the OAuth flow on both sides of the proxy, recorded for learners.

``FlowRecorder`` keeps the flows, ``Correlator`` decides which flow a hop belongs to,
``TraceMiddleware`` sees the hops the sandbox app serves, ``upstream`` the proxy's own
outgoing calls, ``views`` shows them (HTML, JSON, live events, Mermaid).
"""

from sandbox.trace.recorder import Flow, FlowRecorder, Step

__all__ = ["Flow", "FlowRecorder", "Step"]
