"""Markdown written by staff (announcements, assignment instructions), rendered and then
sanitised: never trusted as HTML."""

from __future__ import annotations

import markdown
import nh3


def render_markdown(text: str) -> str:
    return nh3.clean(markdown.markdown(text or "", extensions=["extra"]))
