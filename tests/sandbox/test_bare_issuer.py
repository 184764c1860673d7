"""The proxy's issuer has no trailing slash, byte for byte the same in every place it appears."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel

from sandbox.issuer import BareIssuer


class Metadata(BaseModel):
    issuer: AnyHttpUrl
    authorization_servers: list[AnyHttpUrl]


def test_upstream_pydantic_url_still_adds_the_slash():
    """When this fails, FastMCP's issuer no longer gains a slash: sandbox/issuer.py can go."""
    assert str(AnyHttpUrl("http://localhost:8000")) == "http://localhost:8000/"


def test_the_bare_issuer_survives_validation_and_serialisation():
    issuer = BareIssuer("http://localhost:8000")
    model = Metadata(issuer=issuer, authorization_servers=[issuer])
    assert model.model_dump(mode="json") == {
        "issuer": "http://localhost:8000",
        "authorization_servers": ["http://localhost:8000"],
    }
    assert str(issuer) == "http://localhost:8000"


def test_an_issuer_with_a_path_is_left_as_it_is():
    assert str(BareIssuer("http://localhost:8000/tenant/")) == "http://localhost:8000/tenant/"
