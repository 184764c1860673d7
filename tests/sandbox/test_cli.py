"""The CLI says in one line why it cannot start, and exits non-zero."""

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.testing.server import clean_environment, free_port

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # A free port unless the test names one: a test that reached the bind step on the
    # default 8000 would fail whenever `make sandbox` runs on this machine.
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean_environment(), "SANDBOX_PORT": str(free_port()), **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--port", str(port), "--state-dir", str(tmp_path))
    assert_one_line_error(result, f"port {port}", "already in use")


def test_missing_realm_file(tmp_path):
    result = run_cli("--realm", str(tmp_path / "nope.json"), "--state-dir", str(tmp_path))
    assert_one_line_error(result, "cannot read realm file", "nope.json")


def test_malformed_realm_file(tmp_path):
    realm = tmp_path / "bad.json"
    realm.write_text('{"realm": "sandbox", "users": [')
    result = run_cli("--realm", str(realm), "--state-dir", str(tmp_path))
    assert_one_line_error(result, "bad.json", "invalid JSON")


def test_bad_environment_value_names_the_variable(tmp_path):
    result = run_cli("--state-dir", str(tmp_path), env={"SANDBOX_PORT": "eighty"})
    assert_one_line_error(result, "SANDBOX_PORT")


@pytest.mark.parametrize("host", ["example.com", "0.0.0.0"])
def test_non_loopback_host_is_refused(tmp_path, host):
    result = run_cli("--host", host, "--state-dir", str(tmp_path))
    assert_one_line_error(result, "host", "loopback")


@pytest.mark.parametrize("bundle", ["missing", "garbage"])
def test_a_ca_bundle_that_cannot_be_loaded_is_one_line_naming_the_variable(tmp_path, bundle):
    path = tmp_path / "ca.pem"
    if bundle == "garbage":
        path.write_text("not a certificate\n")
    result = run_cli("--state-dir", str(tmp_path / "state"), env={"SSL_CERT_FILE": str(path)})
    assert_one_line_error(result, "cannot load the TLS trust store", f"SSL_CERT_FILE={path}")


def test_unreachable_keycloak_is_one_line(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        result = run_cli(
            "--backend", "keycloak", "--keycloak-url", f"http://localhost:{port}", "--state-dir", str(tmp_path)
        )
    assert_one_line_error(result, f"Keycloak at http://localhost:{port} is not reachable")


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--port", "abc"], ["argument --port", "invalid int value"]),
        (["--backend", "foo"], ["argument --backend", "invalid choice"]),
        (["--mode", "bogus"], ["argument --mode"]),
    ],
)
def test_bad_flags_are_one_line_not_the_usage(tmp_path, args, needles):
    assert_one_line_error(run_cli(*args, "--state-dir", str(tmp_path)), *needles)


def test_unusable_state_dir(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert_one_line_error(run_cli("--state-dir", str(a_file)), "state directory", str(a_file), "SANDBOX_STATE_DIR")


def test_sandbox_and_keycloak_ports_must_differ(tmp_path):
    result = run_cli("--backend", "keycloak", "--port", "8772", "--keycloak-port", "8772", "--state-dir", str(tmp_path))
    assert_one_line_error(result, "three different ports")


def test_variable_without_a_flag_is_named_as_a_variable(tmp_path):
    result = run_cli("--state-dir", str(tmp_path), env={"SANDBOX_ACCESS_TOKEN_LIFETIME": "0"})
    assert_one_line_error(result, "access_token_lifetime (SANDBOX_ACCESS_TOKEN_LIFETIME)")
    assert "--access-token-lifetime" not in result.stderr


def test_keycloak_flags_with_the_mock_backend_get_a_note(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--keycloak-url", "http://localhost:8080", "--port", str(port), "--state-dir", str(tmp_path))
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        "WARNING sandbox: --keycloak-url ignored: the backend is mock (use --backend keycloak)"
    )


def test_help_names_the_program_it_was_started_as():
    script = Path(sys.executable).with_name("mcp-oauth-sandbox")
    console = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, env=clean_environment()
    )
    assert console.stdout.startswith("usage: mcp-oauth-sandbox "), console.stdout
    assert run_cli("--help").stdout.startswith("usage: python -m sandbox ")


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles(tmp_path):
    result = run_cli(
        "--state-dir", str(tmp_path), "--port", "0", env={"SANDBOX_PROT": "8123", "SANDBOX_CHROMIUM": "/x"}
    )
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert warnings == ["WARNING sandbox: SANDBOX_PROT is not a setting and is ignored (did you mean SANDBOX_PORT?)"]


def test_init_writes_the_default_realm_here_and_never_over_a_file(tmp_path):
    init = [sys.executable, "-m", "sandbox", "init"]
    first = subprocess.run(init, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=clean_environment())
    assert first.returncode == 0 and "--realm sandbox-realm.json" in first.stdout, first.stderr
    written = tmp_path / "sandbox-realm.json"
    assert json.loads(written.read_text()) == json.loads((ROOT / "realms" / "sandbox.json").read_text())
    written.write_text("{}  # edited")
    second = subprocess.run(init, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=clean_environment())
    assert_one_line_error(second, "sandbox-realm.json already exists")
    assert written.read_text() == "{}  # edited"


def start_cli(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--state-dir", str(tmp_path), "--store", "memory"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**clean_environment(), "PYTHONUNBUFFERED": "1"},
    )
    return process, port


def read_until(process: subprocess.Popen[str], needle: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never printed; output:\n" + "\n".join(lines))


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    return process.returncode, rest


def test_the_ready_banner_comes_once_uvicorn_serves_and_ctrl_c_ends_quietly(tmp_path):
    process, port = start_cli(tmp_path)
    try:
        lines = read_until(process, "is ready in")
        assert any("INFO uvicorn: Application startup complete." in line for line in lines[:-1])
        assert re.fullmatch(r"MCP OAuth sandbox is ready in \d+\.\d s \(Ctrl-C to stop\)", lines[-1])
        assert httpx.get(f"http://localhost:{port}/healthz", timeout=10).json()["status"] == "ok"
        # One format: no rich console columns from FastMCP, no "INFO:     " from uvicorn.
        assert all(re.match(r"(DEBUG|INFO|WARNING|ERROR) [\w.]+: ", line) for line in lines[:-1]), lines
    finally:
        returncode, rest = interrupt(process)
    assert returncode == 0 and "Traceback" not in rest and "KeyboardInterrupt" not in rest, rest


def test_ctrl_c_during_start_up_ends_quietly(tmp_path):
    process, _ = start_cli(tmp_path)
    try:
        read_until(process, "Using non-secure cookies")  # the proxy is being built
    finally:
        returncode, rest = interrupt(process)
    assert returncode == 0 and "Traceback" not in rest and "KeyboardInterrupt" not in rest, rest


@pytest.mark.parametrize("presses", [1, 2])
def test_open_streams_are_cut_quietly_and_the_apps_shutdown_still_runs(tmp_path, presses):
    process, port = start_cli(tmp_path)
    stream = socket.socket()
    try:
        read_until(process, "is ready in")
        # The trace page's event stream never ends by itself: it holds the graceful shutdown up.
        stream.settimeout(10)
        stream.connect(("127.0.0.1", port))
        stream.sendall(f"GET /sandbox/trace/events HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
        assert stream.recv(4096).startswith(b"HTTP/1.1 200")
        if presses == 2:
            process.send_signal(signal.SIGINT)
            read_until(process, "Waiting for connections to close")
    finally:
        returncode, rest = interrupt(process)  # once more; after the grace period, with one press
        stream.close()
    assert returncode == 0 and "Traceback" not in rest and "ERROR" not in rest, rest
    cut = "stopping at once: 1 open response(s) cut" if presses == 2 else "INFO uvicorn: Cancel 1 running task(s)"
    assert cut in rest and "Application shutdown complete." in rest, rest


@pytest.mark.parametrize(
    "content, needle", [(None, "does not exist"), ("not a certificate", "holds no PEM certificate")]
)
def test_an_unusable_cimd_ca_is_one_line(tmp_path, content, needle):
    extra = tmp_path / "extra-ca.pem"
    if content is not None:
        extra.write_text(content)
    result = run_cli("--cimd-ca", str(extra), "--state-dir", str(tmp_path / "state"))
    assert_one_line_error(result, "extra-ca.pem", needle)


def test_the_banner_names_the_local_ca_it_made():
    from sandbox.cli import banner
    from sandbox.served_realm import read_realm
    from sandbox.settings import DEFAULT_REALM_FILE
    from sandbox.testing.server import IsolatedSettings

    settings = IsolatedSettings(state_dir=Path("/state"))
    realm = read_realm(DEFAULT_REALM_FILE, settings.base_url).model
    assert (
        "  CIMD CA      : /state/tls/ca.pem (trusted for client metadata documents on loopback HTTPS)"
        in banner(settings, realm, "http://idp", 1.0).splitlines()
    )
    native = IsolatedSettings(state_dir=Path("/state"), mode="native-dcr")
    assert "CIMD CA" not in banner(native, realm, "http://idp", 1.0)


@pytest.mark.parametrize("store", ["file", "memory"])
def test_a_second_sandbox_on_a_state_dir_in_use_is_one_line_and_the_first_keeps_serving(tmp_path, store):
    """Two sandboxes on one state directory lost acknowledged writes: each answers from its own
    memory cache, and the second's mock IdP compacted the journal the first still appended to."""
    process, port = start_cli(tmp_path)  # its proxy store is memory: the mock IdP's journal is claimed
    try:
        read_until(process, "is ready in")
        second = run_cli("--state-dir", str(tmp_path), "--store", store)
        assert_one_line_error(second, "is in use by another running", "--state-dir")
        assert httpx.get(f"http://localhost:{port}/healthz", timeout=10).json()["status"] == "ok"
    finally:
        interrupt(process)
    again, _ = start_cli(tmp_path)  # once the first is gone, the directory is free again
    try:
        read_until(again, "is ready in")
    finally:
        assert interrupt(again)[0] == 0


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_an_empty_state_dir_is_refused_not_read_as_the_working_directory(tmp_path, how):
    """Path("") is ".": the proxy's secret, its store and the TLS CA were written into the working directory."""
    result = run_cli("--state-dir", "") if how == "flag" else run_cli(env={"SANDBOX_STATE_DIR": ""})
    assert_one_line_error(result, "state_dir", "must not be empty")
    assert not (ROOT / "proxy-secret.key").exists()


def test_a_listen_address_that_cannot_be_bound_is_named(tmp_path):
    result = run_cli("--listen-address", "10.255.255.1", "--state-dir", str(tmp_path))
    assert_one_line_error(result, "cannot listen on 10.255.255.1:", "--listen-address")


@pytest.mark.parametrize(
    ("lifespan", "said"),
    [("-5", "$.accessTokenLifespan: must be at least 1 second"), ("NaN", "NaN is not a JSON number")],
)
def test_a_realm_whose_tokens_could_never_be_used_stops_start_up(tmp_path, lifespan, said):
    """A negative accessTokenLifespan started 'ready', then every sign-in failed (FastMCP refuses a non-positive expires_in)."""
    realm = (ROOT / "realms" / "sandbox.json").read_text()
    assert '"accessTokenLifespan": 300' in realm
    path = tmp_path / "realm.json"
    path.write_text(realm.replace('"accessTokenLifespan": 300', f'"accessTokenLifespan": {lifespan}'))
    assert_one_line_error(run_cli("--realm", str(path), "--state-dir", str(tmp_path / "state")), said)
