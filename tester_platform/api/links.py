"""Every link the API returns is absolute, so a client can follow it as it is."""

from __future__ import annotations

from typing import Any, overload


@overload
def absolute(context_or_request: Any, path: str) -> str: ...
@overload
def absolute(context_or_request: Any, path: None) -> None: ...
def absolute(context_or_request: Any, path: str | None) -> str | None:
    """The address of a path on this site: from the request the client made (its scheme and
    host, as it reached us), or SITE_URL when serializing outside a request."""
    if not path:
        return path
    request = context_or_request.get("request") if isinstance(context_or_request, dict) else context_or_request
    if request is not None:
        return request.build_absolute_uri(path)
    from tester_platform.notifications.services import absolute_url

    return absolute_url(path)
