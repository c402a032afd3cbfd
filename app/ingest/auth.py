"""The per-install token, and who may call the receiver.

The token is a random secret in a file only the user can read (mode 0600) in the user data
directory, created the first time a receiver starts. The reporter reads the same file (or
`HINDSIGHT_TOKEN`) and sends it as `Authorization: Bearer <token>`. On loopback the token is
optional (a wrong one is still refused); beyond loopback every request must carry it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
from pathlib import Path

from app.config import user_data_dir

TOKEN_FILE = "token"
ALLOWED_HOSTS_ENV = "HINDSIGHT_ALLOWED_HOSTS"


class TokenError(RuntimeError):
    """The token file cannot be read or created; the message says which file and why."""


def token_path() -> Path:
    return user_data_dir() / TOKEN_FILE


def ensure_token(path: Path | None = None) -> str:
    """The install's token, creating the file (mode 0600) on first use.

    The new file is written under a temporary name and linked into place, so a second
    process starting at the same moment reads a complete token, never an empty file.
    """
    path = path or token_path()
    existing = _read(path)
    if existing:
        return existing
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            if path.exists():  # an empty leftover from a crash: replace it
                path.unlink()
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(scratch, path)
        finally:
            with contextlib.suppress(OSError):
                scratch.unlink()
    except OSError as exc:
        raise TokenError(f"cannot create the token file {path}: {exc.strerror}") from exc
    token = _read(path)
    if not token:
        raise TokenError(f"the token file {path} is empty")
    return token


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TokenError(f"cannot read the token file {path}: {exc}") from exc
    if text and os.name == "posix" and path.stat().st_mode & 0o077:
        # Someone loosened it (or a copy kept a umask's mode): a token others can read is no
        # secret, so take it back to owner-only.
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    return text or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_header(name: str, port: int) -> str:
    name = name.lower()
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(name).version == 6:
            return f"[{name}]:{port}"
    return f"{name}:{port}"


def allowed_hosts(listen: str, port: int) -> frozenset[str]:
    """The `Host` values this receiver answers to.

    On loopback only the loopback names: that is what defeats DNS rebinding. Listening
    beyond loopback, clients on other machines name this machine, so its host name, fully
    qualified name and their addresses are allowed too, as is the address it listens on and
    any name listed in HINDSIGHT_ALLOWED_HOSTS (a DNS alias or a proxy's name). The token is
    then required as well, which a rebinding web page cannot know.
    """
    names = {"127.0.0.1", "localhost", "::1"}
    if not is_loopback(listen):
        if listen not in ("0.0.0.0", "::", ""):
            names.add(listen)
        for name in {socket.gethostname(), socket.getfqdn()}:
            if not name:
                continue
            names.add(name)
            with contextlib.suppress(OSError):
                names.update(str(info[4][0]) for info in socket.getaddrinfo(name, port))
        names.update(_outbound_addresses())
        names.update(
            part.strip() for part in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if part
        )
    return frozenset(_host_header(name, port) for name in names if name)


def _outbound_addresses() -> set[str]:
    """The addresses this machine uses to reach other networks (no packet is sent)."""
    found = set()
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.connect((probe, 9))
            found.add(str(udp.getsockname()[0]))
    return found
