"""Opening ports: any path or URL; failures are LinkErrors with a hint, fast."""

from __future__ import annotations

import os
import socket

import pytest

from fusebook.errors import LinkError
from fusebook.link.port import is_network, open_port, usb_ids


def test_a_missing_device_is_a_link_error_with_a_hint(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(LinkError) as e:
        open_port(str(tmp_path / "ttyUSB9"))
    assert e.value.exit_code == 4
    assert "ttyUSB9" in e.value.message
    assert "port name" in (e.value.hint or "")


def test_a_refused_socket_is_a_link_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(LinkError, match="cannot open port socket://"):
        open_port(f"socket://127.0.0.1:{port}")


def test_an_empty_port_name_is_a_link_error() -> None:
    with pytest.raises(LinkError, match="no port"):
        open_port("")


def test_a_pty_path_opens_though_nothing_enumerates_it() -> None:
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        port = open_port(path, 115200, timeout=0.05)
        assert port.is_open and port.baudrate == 115200
        assert usb_ids(port) == (None, None)
        port.write(b"\xc0hi\xc0")
        assert os.read(master, 16) == b"\xc0hi\xc0"
        port.close()
    finally:
        os.close(master)
        os.close(slave)


def test_network_urls_are_recognised() -> None:
    assert is_network("socket://127.0.0.1:1") and is_network("RFC2217://h:2")
    assert not is_network("/dev/ttyUSB0")
