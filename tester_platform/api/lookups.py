from django.http import Http404

MAX_ID = 2**63 - 1  # the largest primary key a database can hold; larger input is a 400/404, not a 500


def pk_or_404(value) -> int:
    """A primary key from the URL, or 404: junk and out-of-range numbers never reach the database."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not 0 < pk <= MAX_ID:
        raise Http404("Not found.")
    return pk
