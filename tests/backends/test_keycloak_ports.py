import socket

from sandbox.backends.keycloak.ports import free_port, port_conflict, port_in_use


def test_a_listening_port_is_in_use() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use(port)
        assert port_conflict(free_port(), port) == (
            f"port {port} is already in use; stop what listens there or choose another port"
        )


def test_a_free_port_is_not_in_use() -> None:
    port = free_port()
    assert not port_in_use(port)
    assert port_conflict(port) is None


def test_a_closed_connection_in_time_wait_does_not_count() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, so it holds TIME_WAIT
        client.close()
    assert not port_in_use(port)
