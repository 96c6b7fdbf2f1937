"""`HOST:PORT` as the command line takes it for the servers fusebook runs (the virtual chip,
the web page): one parser, so both read `[::1]:PORT`, `:PORT` and `PORT` alike."""

from __future__ import annotations

from fusebook.errors import InputError


def host_port(text: str, option: str, example: str) -> tuple[str, int]:
    """(host, port) of `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT`; the host defaults to
    127.0.0.1 and port 0 asks for a free one. InputError (exit 2) names `option`."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = "", text
    try:
        port = int(port_text)
    except ValueError:
        raise InputError(f"{option} {text!r}: not HOST:PORT", hint=f"e.g. {option} {example}") from None
    if not 0 <= port <= 65535:
        raise InputError(f"{option} {text!r}: port {port} is out of range",
                         hint="use a port from 0 (any free one) to 65535")
    return host or "127.0.0.1", port
