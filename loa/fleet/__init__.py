"""The server tier: one server, many players (issue 15)."""
