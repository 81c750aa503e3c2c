"""Duyệt: the leader's queue of bulletins waiting for approval ("chờ duyệt") and those
changed since approved ("chờ duyệt lại"): the words, how the voice reads them, Nghe thử;
"Duyệt" approves what is on the page (refused if it changed since), "Trả lại" sends it
back to the editor with a note (required)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from loa import station as svc
from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import display_name, roles_required
from loa.console.pages.views.bulletins import (
    clip_of,
    find,
    problems_of,
    reading_of,
    shows_loa_errors,
    voicing,
    when_vi,
)
from loa.errors import LoaError


class ReturnForm(forms.Form):
    use_required_attribute = False  # an empty note gets the server's Vietnamese message
    note = forms.CharField(label="Lý do trả lại", max_length=2000, widget=forms.Textarea(
        attrs={"rows": 3}), error_messages={
            "required": "Cần ghi lý do trả lại để người biên tập biết cần sửa gì.",
            "max_length": "Lý do quá dài (tối đa 2.000 ký tự)."})
    version = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)


def item(key: str, b, view, voices) -> dict:
    words, problem = reading_of(b, voices)
    clip = clip_of(b, voices)
    return {"key": key, "b": b, "view": view, "reading": words, "reading_problem": problem,
            "clip": clip, "version": b.approval_hash(), "submitted_at": when_vi(b.submitted_at),
            "approved_at": when_vi(b.approved_at)}


def queue(voices) -> tuple[list[dict], list[str]]:
    """(items waiting for a leader, problems of unreadable files)."""
    items, problems = [], []
    for key, path_ in station.bulletin_files().items():
        try:
            _, shown = svc.show_bulletins(path_)
        except LoaError as exc:
            problems += problems_of(exc)
            continue
        for b, view in shown:
            if view.status == "pending" or view.edited_after_approval:
                items.append(item(key, b, view, voices))
    return items, problems


def one(key: str, b, view) -> dict:
    voices = voicing()
    try:
        return item(key, b, view, voices)
    finally:
        if voices is not None:
            voices.close()


@roles_required("leader")
@shows_loa_errors
def index(request):
    voices = voicing()
    try:
        items, problems = queue(voices)
    finally:
        if voices is not None:
            voices.close()
    listened = request.GET.get("nghe", "")
    return render(request, "pages/review/index.html", {
        "title": "Duyệt", "items": items, "errors": problems, "listened": listened})


@roles_required("leader")
@shows_loa_errors
def detail(request, key: str, bid: str):
    _, b, view = find(key, bid)
    return render(request, "pages/review/detail.html", {
        "title": f"Duyệt: {b.title}", "it": one(key, b, view), "form": ReturnForm()})


@roles_required("leader")
@require_POST
@shows_loa_errors
def approve(request, key: str, bid: str):
    path_, b, view = find(key, bid)
    seen = request.POST.get("version", "")
    force = request.POST.get("force") == "1"  # the leader read it: the words are right
    try:
        (done,) = svc.approve_bulletins(
            path_, [b.id], display_name(request.user), station.clock(), force=force,
            account=f"web:{request.user.get_username()}", expected={b.id: seen})
    except LoaError as exc:
        _, now, view = find(key, bid)
        return render(request, "pages/review/detail.html", {
            "title": f"Duyệt: {now.title}", "it": one(key, now, view), "form": ReturnForm(),
            "errors": problems_of(exc),
            "offer_force": any("có vẻ bị lỗi chữ" in p.message for p in exc.problems)},
            status=409 if now.approval_hash() != seen else 400)
    audit.record(request, "bulletin.approve", done.title,
                 f"duyệt (dấu nội dung {done.approved_hash})"
                 + ("; người duyệt xác nhận lời đúng dù máy thấy có vẻ lỗi chữ" if force else ""))
    messages.success(request, f"Đã duyệt “{done.title}”: bản tin sẽ được phát theo lịch.")
    return redirect("review")


@roles_required("leader")
@require_POST
@shows_loa_errors
def send_back(request, key: str, bid: str):
    path_, b, view = find(key, bid)
    form = ReturnForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            done = svc.return_bulletin(path_, b.id, display_name(request.user),
                                       form.cleaned_data["note"], station.clock())
        except LoaError as exc:
            errors = problems_of(exc)
        else:
            audit.record(request, "bulletin.return", done.title,
                         f"trả lại: {done.review_note}")
            messages.success(request, f"Đã trả lại “{done.title}” cho người biên tập.")
            return redirect("review")
    return render(request, "pages/review/detail.html", {
        "title": f"Duyệt: {b.title}", "it": one(key, b, view), "form": form,
        "errors": errors}, status=400)


urlpatterns = [
    path("", index, name="review"),
    path("<str:key>/<str:bid>/", detail, name="review-bulletin"),
    path("<str:key>/<str:bid>/duyet/", approve, name="review-approve"),
    path("<str:key>/<str:bid>/tra-lai/", send_back, name="review-return"),
]
