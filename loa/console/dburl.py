"""LOA_DATABASE_URL / `--database` to Django's DATABASES entry (no Django import: the CLI
checks a URL before Django is set up)."""

from __future__ import annotations


def database_from_url(url: str) -> dict:
    """postgresql://user:pw@host:port/db[?host=/socket/dir&sslmode=...] -> Django's settings
    for its postgresql backend (psycopg 3)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        raise ValueError(f"not a postgresql://user@host/db URL: {parts.scheme}://…")
    query = dict(parse_qsl(parts.query))
    host = query.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.strip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        # waitress threads keep their connection for a while (no reconnect per request);
        # health checks drop one the database closed (a PostgreSQL restart)
        "CONN_MAX_AGE": 300,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": query,  # sslmode, connect_timeout ... as libpq names them
    }
