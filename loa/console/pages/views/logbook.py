"""Nhật ký (placeholder of the skeleton: the page's owner replaces this module)."""

from django.shortcuts import render
from django.urls import path

from loa.console.accounts.roles import roles_required


@roles_required()
def index(request):
    return render(request, "pages/placeholder.html", {"title": "Nhật ký"})


urlpatterns = [path("", index, name="logbook")]
