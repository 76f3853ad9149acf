"""URL path converters."""


class IdentifierConverter:
    """An id in a URL path (transaction ids, user ids): any text without '/' or control
    characters, so that a NUL (which PostgreSQL cannot store) is a 404, not a database error."""

    regex = r"[^/\x00-\x1f\x7f]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value
