"""Reading a socket:// port: what has arrived in one receive, a timeout as b"", a peer gone as an error."""

from __future__ import annotations

import socket
import time

import pytest
import serial

from fusebook.link.port import open_port, read_available


@pytest.fixture
def pair():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = open_port(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=0.05)
    peer, _ = server.accept()
    yield port, peer
    port.close()
    peer.close()
    server.close()


def test_every_byte_that_arrived_comes_in_one_read(pair) -> None:
    port, peer = pair
    peer.sendall(bytes(range(200)))
    time.sleep(0.05)
    assert read_available(port, 0.5) == bytes(range(200))  # pyserial's in_waiting says 1 here


def test_nothing_within_the_wait_is_empty_and_a_closed_peer_is_an_error(pair) -> None:
    port, peer = pair
    t = time.perf_counter()
    assert read_available(port, 0.05) == b""
    assert 0.04 <= time.perf_counter() - t < 0.5
    peer.close()
    with pytest.raises(serial.SerialException):
        read_available(port, 0.5)
