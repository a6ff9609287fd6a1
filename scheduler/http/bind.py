"""Where ``scheduler run --http`` listens: parsing ``HOST:PORT`` and the loopback rule.

Kept free of web-framework imports so the command line can check its argument before it
loads anything. A bind that is not loopback exposes the API to the network, which is only
allowed when mutations are protected by a token.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from scheduler.errors import SchedulerError

__all__ = [
    "DEFAULT_HOST",
    "Bind",
    "InvalidBind",
    "check_exposure",
    "is_loopback",
    "open_listener",
    "parse_bind",
]

DEFAULT_HOST = "127.0.0.1"


class InvalidBind(SchedulerError):
    """A ``--http`` value that is not ``HOST:PORT``, or a bind that is refused."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"--http {value!r}: {reason}")


@dataclass(frozen=True, slots=True)
class Bind:
    """A host and a port to listen on."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_bind(value: str) -> Bind:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (loopback); raises ``InvalidBind``."""
    text = value.strip()
    host, colon, port_text = text.rpartition(":")
    if not colon:
        raise InvalidBind(value, "expected HOST:PORT, e.g. 127.0.0.1:8080 or :8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise InvalidBind(value, "write an IPv6 address in brackets, e.g. [::1]:8080")
    host = host or DEFAULT_HOST
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidBind(value, f"port {port_text!r} is not a number from 0 to 65535")
    if any(char.isspace() for char in host):
        raise InvalidBind(value, f"host {host!r} contains spaces")
    return Bind(host, int(port_text))


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine (127.0.0.0/8, ::1, ``localhost``)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(bind: Bind, api_token: str | None) -> None:
    """Refuse a bind reachable from other machines while no API token is set."""
    if not is_loopback(bind.host) and not api_token:
        raise InvalidBind(
            str(bind),
            f"{bind.host} is reachable from other machines; set SCHEDULER_API_TOKEN before "
            "serving the API there (or bind 127.0.0.1)",
        )


def open_listener(bind: Bind) -> socket.socket:
    """A listening TCP socket on ``bind``; raises ``InvalidBind`` when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            bind.host, bind.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InvalidBind(str(bind), f"cannot listen there: {exc}") from exc
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise InvalidBind(str(bind), f"cannot listen there: {exc.strerror or exc}") from exc
    listener.setblocking(False)
    return listener
