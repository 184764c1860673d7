"""Fixtures for the trace's unit tests."""

from __future__ import annotations

import pytest
from trace_support import IDP

from sandbox.trace.correlate import Correlator
from sandbox.trace.hops import Classifier
from sandbox.trace.recorder import FlowRecorder
from sandbox.trace.tracer import Tracer


@pytest.fixture
def make_tracer():
    def make(mode: str = "proxy", **recorder_options) -> Tracer:
        recorder = FlowRecorder(mode=mode, **recorder_options)
        upstream = "sandbox-proxy" if mode == "proxy" else ""
        classifier = Classifier(mode=mode, idp_prefix=IDP, upstream_client_id=upstream)
        return Tracer(recorder, classifier, Correlator(recorder, upstream_client_id=upstream))

    return make
