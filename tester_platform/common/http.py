"""Small facts about a request that pages, the API and services all read the same way."""

from __future__ import annotations


def client_ip(request) -> str | None:
    """The address the request came from, as the WSGI server saw it (REMOTE_ADDR; the proxy
    in front is trusted to set it). Recorded with consent signatures, tokens and token use."""
    return request.META.get("REMOTE_ADDR")
