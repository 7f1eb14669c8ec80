"""Which failed HTTP replies are infrastructure trouble (retry) and which are real API errors (do not)."""

from __future__ import annotations

import json

# Texts of gateway / load-balancer error pages, which never come from the API itself.
_INFRASTRUCTURE_MARKERS = (
    "404 page not found",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
    "<html",
    "<HTML",
    "<!DOCTYPE",
    "<!doctype",
)
_GATEWAY_STATUSES = frozenset({502, 503, 504})
# A non-JSON 404 that mentions one of these words is taken to be the API's own answer.
_API_WORDS = ("bucket", "query", "job", "error", "message")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_nginx_char_map(text: str) -> bool:
    # Under load nginx was seen to answer a string spelled out as a JSON object, {"0":"4","1":"0",...}.
    return text.startswith('{"0":') and '"4"' in text and '"0"' in text


def is_infrastructure_error(status: int, body: str) -> bool:
    """True when a non-2xx reply came from the infrastructure in front of the API, not from the API."""
    if any(marker in body for marker in _INFRASTRUCTURE_MARKERS):
        return True
    if _is_nginx_char_map(body):
        return True
    if status in _GATEWAY_STATUSES:
        return True
    if status == 404:
        if _is_json(body):
            return False
        return not any(word in body for word in _API_WORDS)
    return False


def is_retryable_reply(status: int, body: str, *, retry_all_5xx: bool) -> bool:
    """The retry rule for a failed reply. SHARP retries every 5xx; Atlantic only infrastructure replies."""
    if retry_all_5xx and 500 <= status < 600:
        return True
    return is_infrastructure_error(status, body)


#: Statuses that say "not now" rather than "no": timeouts, throttling, server and gateway trouble.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


def is_transient_status(status: int) -> bool:
    """True for an HTTP status that a later identical request may not get (timeout, throttling, 5xx)."""
    return status in _TRANSIENT_STATUSES or 500 <= status < 600
