"""PDF documents (WeasyPrint): payout reports for finance, payout statements for artists.
Rendered from templates/finance/pdf_*.html; charts are the same inline SVG as the pages."""

from __future__ import annotations

from django.template.loader import render_to_string


def render_pdf(template: str, context: dict) -> bytes:
    from weasyprint import HTML  # imported on use: it loads pango, which pages never need

    html = render_to_string(template, context)
    return HTML(string=html, base_url=None).write_pdf()
