"""The loopback CIMD override (sandbox/cimd.py): what it adds to FastMCP's fetcher, and when it can go."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx2
import pytest
from fastmcp.server.auth.cimd import CIMDFetcher, CIMDFetchError, CIMDValidationError

from sandbox.cimd import LoopbackCIMDFetcher, is_loopback_document
from sandbox.testing.cimd import hosted_client_metadata
from sandbox.tls import LocalCA, TrustAnchorError
from sandbox.trace.upstream import DocumentFetchHooks

DOCUMENT = {"client_name": "Unit client", "redirect_uris": ["http://127.0.0.1:9/callback"]}


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA(tmp_path / "tls")


async def test_upstream_fastmcp_still_refuses_loopback_documents(ca):
    """When this fails, FastMCP fetches loopback documents itself: delete sandbox/cimd.py's override."""
    with hosted_client_metadata(ca, DOCUMENT) as hosted, pytest.raises(CIMDValidationError, match="blocked IP"):
        await CIMDFetcher().fetch(hosted.url)
    assert not hosted.fetches


async def test_a_loopback_document_with_a_certificate_from_the_ca_is_fetched(ca):
    with hosted_client_metadata(ca, DOCUMENT) as hosted:
        doc = await LoopbackCIMDFetcher([ca.ensure()]).fetch(hosted.url)
    assert str(doc.client_id) == hosted.url
    assert doc.client_name == "Unit client"


async def test_a_certificate_from_another_ca_is_refused_before_any_request(ca, tmp_path):
    other = LocalCA(tmp_path / "other")
    with (
        hosted_client_metadata(other, DOCUMENT) as hosted,
        pytest.raises(CIMDFetchError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        await LoopbackCIMDFetcher([ca.ensure()]).fetch(hosted.url)
    assert not hosted.fetches


async def test_a_second_trusted_ca_is_honoured(ca, tmp_path):
    other = LocalCA(tmp_path / "other")
    with hosted_client_metadata(other, DOCUMENT) as hosted:
        doc = await LoopbackCIMDFetcher([ca.ensure(), other.ensure()]).fetch(hosted.url)
    assert doc.client_name == "Unit client"


async def test_fastmcp_s_document_rules_still_apply_on_loopback(ca):
    with (
        hosted_client_metadata(ca, {**DOCUMENT, "token_endpoint_auth_method": "client_secret_post"}) as hosted,
        pytest.raises(CIMDValidationError, match="token_endpoint_auth_method"),
    ):
        await LoopbackCIMDFetcher([ca.ensure()]).fetch(hosted.url)


async def test_every_other_ssrf_rule_stays_as_fastmcp_has_it(ca):
    fetcher = LoopbackCIMDFetcher([ca.ensure()])
    for url in ("https://10.0.0.1/client.json", "https://169.254.169.254/latest/meta-data"):
        with pytest.raises(CIMDValidationError, match="blocked IP"):
            await fetcher.fetch(url)


def test_only_literal_loopback_names_get_the_exception():
    assert is_loopback_document("https://localhost:8443/c.json")
    assert is_loopback_document("https://127.0.0.1:8443/c.json")
    assert is_loopback_document("https://[::1]:8443/c.json")
    assert not is_loopback_document("http://127.0.0.1:8443/c.json")
    assert not is_loopback_document("https://evil.localhost/c.json")
    assert not is_loopback_document("https://127.0.0.1.nip.io/c.json")


def test_the_ca_is_made_once_and_reused(ca):
    first = ca.ensure().read_bytes()
    assert ca.ensure().read_bytes() == first
    assert ca.key_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "content, reason", [(None, "does not exist"), (b"not a certificate", "holds no PEM certificate")]
)
def test_an_unusable_extra_ca_names_the_file_and_the_cause(ca, tmp_path, content, reason):
    extra = tmp_path / "extra.pem"
    if content is not None:
        extra.write_bytes(content)
    with pytest.raises(TrustAnchorError, match=reason) as failure:
        LoopbackCIMDFetcher([ca.ensure(), extra])
    assert str(extra) in str(failure.value)


class Canned(LoopbackCIMDFetcher):
    """A loopback fetcher whose server answers ``content`` after ``delay`` seconds."""

    def __init__(self, ca: LocalCA, content: bytes, delay: float = 0.0) -> None:
        super().__init__([ca.ensure()])
        self.content, self.delay = content, delay

    async def _fetch_loopback(self, url: str) -> bytes:
        await asyncio.sleep(self.delay)
        return self.content


CANNED_URL = "https://127.0.0.1:9/client.json"


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 5000,  # within FastMCP's 5 KiB: a RecursionError, then a 500 at /authorize
        json.dumps({"client_id": CANNED_URL, "client_name": "x", "redirect_uris": []})
        .encode()
        .replace(b'"x"', b'"\\ud800"'),
        b'{"client_id": "' + CANNED_URL.encode() + b'", "logo_uri": NaN}',
    ],
    ids=["deep", "lone-surrogate", "nan"],
)
async def test_a_document_no_json_reader_survives_is_refused_as_invalid(ca, content):
    with pytest.raises(CIMDValidationError, match="Invalid CIMD document"):
        await Canned(ca, content).fetch(CANNED_URL)


async def test_the_whole_fetch_has_fastmcp_s_deadline(ca, monkeypatch):
    """httpx's timeout is per read: a server sending a byte every few seconds held /authorize open."""
    monkeypatch.setattr("sandbox.cimd.OVERALL_TIMEOUT_SECONDS", 0.2)
    with pytest.raises(CIMDFetchError, match="Timed out after"):
        await Canned(ca, b"{}", delay=5).fetch(CANNED_URL)


@pytest.mark.parametrize(
    ("headers", "read"),
    [
        ({"content-length": "5120"}, True),
        ({"content-length": "5121"}, False),
        ({}, False),
        ({"content-length": "0" * 5000 + "9"}, True),
    ],
)
def test_the_trace_reads_a_document_only_when_it_declares_the_fetchers_limit(headers, read):
    """The trace's response hook runs before the fetcher's size check: reading a 200 MB
    document there took the sandbox from 113 MB to 727 MB before the 400."""
    hooks = DocumentFetchHooks(None, "http://localhost:9")  # the hook reads no tracer to decide
    response = httpx2.Response(200, headers={"content-type": "application/json", **headers})
    assert hooks.on_response._small(response) is read
