"""Accounts of the console: roles (Django groups), login throttling, the audit log."""
