"""One module per page; each has its own `urlpatterns` (see ../urls.py)."""
