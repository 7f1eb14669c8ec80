"""URLs as they may appear in logs and errors: node and RPC URLs carry API keys in their query
string, their user-info, or a path segment (`/v3/<key>`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

#: a path segment this long, of key-like characters, is taken for an API key
_KEY_LIKE = re.compile(r"^[A-Za-z0-9_\-]{16,}$")


def redact_url(url: str) -> str:
    """scheme://host[:port]/path with the user-info, the query, the fragment and key-like path
    segments replaced by `***`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = ("***@" if parts.username or parts.password else "") + host + port
    path = "/".join("***" if _KEY_LIKE.match(segment) else segment for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, "***" if parts.query else "", "***" if parts.fragment else ""))


def scrub(text: str, url: str) -> str:
    """`text` (e.g. a library's error message) with `url` and its query string replaced by the redacted form."""
    shown = redact_url(url)
    text = text.replace(url, shown)
    query = urlsplit(url).query
    return text.replace(query, "***") if query else text


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def scrub_urls(text: str) -> str:
    """`text` with every URL in it redacted: for errors whose URL the caller does not know."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)
