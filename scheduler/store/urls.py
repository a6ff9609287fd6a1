"""Store URLs: which back end a URL means, and how to show it without its password."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from scheduler.store.errors import InvalidStoreUrl

MEMORY_URL = "memory://"
_PASSWORD = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^:/@]*:)(?P<password>[^@]*)(?P<tail>@.*)$")


def mask_password(url: str) -> str:
    """The URL as logs and error messages show it: any password replaced by ``***``."""
    match = _PASSWORD.match(url)
    if match is None:
        return url
    return f"{match['head']}***{match['tail']}"


def password_of(url: str) -> str | None:
    """The URL's password, so driver messages that echo it can be masked too."""
    match = _PASSWORD.match(url)
    return match["password"] if match is not None and match["password"] else None


def backend_of(url: str) -> str:
    """``memory``, ``sqlite`` or ``postgresql``; anything else is an ``InvalidStoreUrl``."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if url == MEMORY_URL:
        return "memory"
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return "sqlite"
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        return "postgresql"
    raise InvalidStoreUrl(
        mask_password(url),
        "expected sqlite:///PATH, postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB or memory://",
    )


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy is given: PostgreSQL always through psycopg 3."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def sqlite_path(url: str) -> Path:
    """The database file a ``sqlite:///PATH`` URL names (relative to the working folder)."""
    _, _, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        raise InvalidStoreUrl(
            url, "a SQLite store needs a file (sqlite:///PATH), shared by every process"
        )
    return Path(path)
