"""URL converters shared by the product's apps (registered once, on import)."""

from django.urls import register_converter


class IdConverter:
    """A primary key: at most 18 digits, so a huge number is a 404, never a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
