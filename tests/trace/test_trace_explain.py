"""Every step kind the trace can record comes with one sentence and the section it implements."""

import re

from sandbox.trace.explain import EXPLANATIONS, explain
from sandbox.trace.hops import STEP_KINDS

SPECS = {"RFC 9728", "RFC 8414", "RFC 7591", "RFC 7636", "RFC 6749", "RFC 8707", "RFC 9207", "RFC 6750", "RFC 7009"}
# Every kind the trace records (sandbox/trace/hops.py), but the two that cite no RFC section: the
# metadata document's draft has its own test below, and the upstream hop follows MCP's own rule.
KINDS = STEP_KINDS - {"cimd_fetch", "upstream_mcp"}


def test_every_kind_is_explained_with_a_section_of_a_known_rfc():
    assert set(EXPLANATIONS) >= KINDS
    for kind in KINDS:
        about = explain(kind)
        sections = re.findall(r"(RFC \d+) §[\d.]+", about.rfc)
        assert sections, f"{kind}: {about.rfc!r} names no section"
        assert set(sections) <= SPECS, kind
        assert about.text.endswith(".") and about.text.count(". ") == 0, f"{kind}: one sentence"


def test_the_metadata_document_fetch_names_its_draft_and_the_mcp_section():
    about = explain("cimd_fetch")
    assert re.search(r"draft-ietf-oauth-client-id-metadata-document-\d+ §\d", about.rfc)
    assert "MCP 2026-07-28" in about.rfc
    assert about.text.endswith(".") and about.text.count(". ") == 0


def test_the_issue_s_rfcs_are_all_cited():
    cited = " ".join(explain(kind).rfc for kind in KINDS)
    for rfc in (
        "RFC 9728 §5.1",
        "RFC 8414 §3",
        "RFC 7591 §3.1",
        "RFC 7636",
        "RFC 6749 §4.1.3",
        "RFC 8707",
        "RFC 9207 §2",
    ):
        assert rfc in cited


def test_unknown_kinds_fall_back_instead_of_failing():
    assert explain("something-new").title == "Other request"


def test_every_kind_the_trace_records_has_an_explanation_of_its_own():
    assert set(EXPLANATIONS) == STEP_KINDS
