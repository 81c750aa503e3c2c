"""The server role of the console: stations, their devices (players), bundles, plays,
heartbeats and emergencies, kept in the console's database (PostgreSQL on a province)."""
