"""The sandbox's local certificate authority, for Client ID Metadata Documents on loopback.

A CIMD client's ``client_id`` is the HTTPS URL of its metadata document. Nothing on a
developer's machine has a publicly trusted certificate for ``localhost``, so the sandbox
makes a CA of its own, once, in ``<state-dir>/tls/``: a document served on a loopback
origin is fetched only when its certificate chains to that CA (or to ``--cimd-ca``).
The key never leaves the state directory; nothing outside the sandbox trusts the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.state import write_private_file

# Names a loopback document server answers to: the CA issues for these and nothing else.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CA_LIFETIME = datetime.timedelta(days=3650)
LEAF_LIFETIME = datetime.timedelta(days=30)


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate and its key, as PEM files a TLS server can load."""

    cert_file: Path
    key_file: Path


class LocalCA:
    """``<state-dir>/tls/ca.pem`` and its key, created on first use and reused after."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key_file(self) -> Path:
        return self.directory / "ca-key.pem"

    def ensure(self) -> Path:
        """The CA certificate's path, making the CA if there is none yet."""
        if not (self.cert_file.exists() and self.key_file.exists()):
            self._create()
        return self.cert_file

    def _create(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        # A name of its own: with two sandboxes' CAs trusted (--cimd-ca), the same subject
        # would make OpenSSL try the wrong one's key.
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"MCP OAuth sandbox local CA {secrets.token_hex(4)}")]
        )
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            # Name constraints: even a leaked key cannot vouch for anything but loopback.
            .add_extension(
                x509.NameConstraints(permitted_subtrees=_loopback_subtrees(), excluded_subtrees=None), critical=True
            )
            .sign(key, hashes.SHA256())
        )
        write_private_file(self.key_file, _key_pem(key))
        write_private_file(self.cert_file, certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, directory: Path, name: str = "localhost") -> IssuedCertificate:
        """A server certificate for the loopback names, signed by this CA, written to ``directory``."""
        self.ensure()
        ca_key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + LEAF_LIFETIME)
            .add_extension(x509.SubjectAlternativeName(_loopback_names()), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)  # type: ignore[arg-type]
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        directory.mkdir(parents=True, exist_ok=True)
        issued = IssuedCertificate(directory / f"{name}.pem", directory / f"{name}-key.pem")
        write_private_file(issued.key_file, _key_pem(key))
        issued.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return issued


class TrustAnchorError(ValueError):
    """A CA file that cannot be trusted as given: missing, unreadable or not PEM."""


def read_certificates(path: Path) -> list[x509.Certificate]:
    """The PEM certificates in ``path``, or a :class:`TrustAnchorError` naming the file and why."""
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except FileNotFoundError:
        raise TrustAnchorError(f"CIMD CA file {path} does not exist") from None
    except ValueError:
        raise TrustAnchorError(f"CIMD CA file {path} holds no PEM certificate") from None
    except OSError as error:
        raise TrustAnchorError(f"CIMD CA file {path}: {error.strerror or error}") from None


def client_context(ca_files: list[Path]) -> ssl.SSLContext:
    """A TLS client context that trusts the given CAs and nothing else (no system roots)."""
    # PROTOCOL_TLS_CLIENT checks the chain and the host name, and starts with no roots.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in ca_files:
        certificates = read_certificates(path)
        context.load_verify_locations(
            cadata="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)
        )
    return context


def server_context(issued: IssuedCertificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(issued.cert_file), str(issued.key_file))
    return context


def _loopback_names() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in LOOPBACK_NAMES[1:]]
    return names


def _loopback_subtrees() -> list[x509.GeneralName]:
    subtrees: list[x509.GeneralName] = [x509.DNSName("localhost")]
    subtrees += [x509.IPAddress(ipaddress.ip_network(address)) for address in LOOPBACK_NAMES[1:]]
    return subtrees


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
