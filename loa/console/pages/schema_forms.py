"""Django forms built from a loa Schema (`Schema.describe()`): the widgets an officer taps
on a phone (time and date pickers, checkboxes for weekdays and villages), and a clean()
that runs loa's own rules, so a form says what `loa validate` would, in its Vietnamese.

Fields take what the browser sends as text and leave every judgement to loa: a village
that no longer exists is told as loa tells it ("không có vùng …"), not as Django would."""

from __future__ import annotations

from typing import Any

from django import forms

from loa.errors import LoaError
from loa.schema import FieldInfo, Schema, parse_date, parse_datetime


class LooseMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes whose values loa checks (a stale or forged village gets loa's message)."""

    def valid_value(self, value):
        return True


class SchemaForm(forms.Form):
    """A form for one section of the schedule (zones, sessions, …).

    With a draft (loa.station.ScheduleDraft), clean() applies the values to it: the loa
    schema and every rule between items (quiet hours, unknown villages, from/until) run,
    and each problem lands on its field. Without one, the schema alone runs."""

    schema: Schema
    section: str
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, draft=None, original_id: str | None = None,
                 choices: dict[str, dict[str, str]] | None = None,
                 files: dict[str, str] | None = None, absent: set[str] | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.draft, self.original_id = draft, original_id
        self.file_paths = files or {}  # choice key -> the name written in the schedule
        self.absent = absent or set()  # keys the item does not write (their default holds)
        for name, options in (choices or {}).items():
            if name in self.fields:
                self.fields[name].choices = [*self.fields[name].choices[:_blanks(
                    self.fields[name])], *options.items()]
        self.item_id: str | None = None

    def loa_values(self) -> dict[str, Any]:
        """The cleaned form as the plain values loa reads (strings, lists, true/false)."""
        out: dict[str, Any] = {}
        for name in self.schema.fields:
            if name not in self.fields or name not in self.cleaned_data:
                continue
            value = self.cleaned_data[name]
            field = self.fields[name]
            if getattr(field, "loa_kind", "") == "file":  # a key, never a path from the form
                value = self.file_paths.get(value, "") if value else ""
            if isinstance(field, LooseMultipleChoiceField):
                value = list(value)
                every = [str(k) for k, _ in field.choices]
                # all villages ticked on an item that never named them: still "all"
                if name in self.absent and field.loa_kind == "refs" and every and \
                        sorted(value) == sorted(every):
                    value = None
            out[name] = value
        return out

    def clean(self):
        data = super().clean()
        values = self.loa_values()
        try:
            if self.draft is not None:
                self.item_id = self.draft.put(self.section, values, self.original_id)
            else:
                from loa.schema import validate

                given = {k: v for k, v in values.items() if v not in (None, "", [])}
                _, problems = validate(self.schema, given)
                if problems:
                    raise LoaError.many(problems)
        except LoaError as exc:
            add_problems(self, exc)
        return data


def add_problems(form: forms.Form, exc: LoaError) -> None:
    """Every problem of a LoaError on the form: on its field when it names one."""
    for p in exc.problems:
        if p.key in form.fields:
            label = str(form.fields[p.key].label)
            form.add_error(p.key, p.message if p.message.startswith(label + ":")
                           else f"{label}: {p.message}")
        else:
            form.add_error(None, str(p))


def all_errors(form: forms.Form) -> list[str]:
    """Every message of a rejected form, for the page's one list of errors."""
    out = list(form.non_field_errors())
    for name, field in form.fields.items():
        for message in form.errors.get(name, []):
            out.append(message if message.startswith(str(field.label)) else
                       f"{field.label}: {message}")
    return out


def _blanks(field) -> int:
    return 1 if getattr(field, "loa_blank", False) else 0


def field_for(info: FieldInfo, *, textarea: bool = False, label: str | None = None,
              help_text: str | None = None) -> forms.Field:
    """A form field for one schema field, by its kind."""
    common = {"label": label or info.label_vi, "required": False,
              "help_text": info.help_vi if help_text is None else help_text}
    kind = info.kind
    field: forms.Field
    if kind in ("number", "integer"):
        attrs = {"inputmode": "numeric" if kind == "integer" else "decimal",
                 "step": "1" if kind == "integer" else "any"}
        if info.min is not None:
            attrs["min"] = str(info.min)
        if info.max is not None:
            attrs["max"] = str(info.max)
        field = forms.CharField(widget=forms.NumberInput(attrs=attrs), **common)
    elif kind == "bool":
        field = forms.BooleanField(**common)
    elif kind in ("choice", "file"):
        options = [("", "— mặc định —" if kind == "choice" else "— chọn —")]
        options += [(str(k), f"{k} ({v})" if v and v != k else str(k))
                    for k, v in (info.choices or {}).items()]
        field = forms.ChoiceField(choices=options, **common)
        field.loa_blank = True
    elif kind in ("choices", "weekdays", "refs", "texts"):
        options = [(str(k), str(v)) for k, v in (info.choices or {}).items()]
        field = LooseMultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple,
                                         **common)
    elif kind == "time":
        field = forms.CharField(widget=forms.TextInput(attrs={"type": "time"}), **common)
    elif kind == "date":
        field = forms.CharField(widget=forms.TextInput(attrs={"type": "date"}), **common)
    elif kind == "datetime":
        field = forms.CharField(widget=forms.TextInput(attrs={"type": "datetime-local"}),
                                **common)
    else:
        widget = forms.Textarea(attrs={"rows": 5}) if textarea else forms.TextInput
        field = forms.CharField(widget=widget, strip=kind != "text", **common)
    field.loa_kind = kind
    return field


def schema_form(schema: Schema, section: str, fields: list[str], *,
                textareas: tuple[str, ...] = (), labels: dict[str, str] | None = None,
                helps: dict[str, str] | None = None,
                choices: dict[str, dict[str, str]] | None = None) -> type[SchemaForm]:
    """A SchemaForm class with `fields` of `schema`, in that order; `choices` makes a
    field a closed list (a priority 1-3 by its meaning)."""
    infos = {i.name: i for i in schema.describe()}
    attrs: dict[str, Any] = {"schema": schema, "section": section}
    for name in fields:
        info = infos[name]
        if choices and name in choices:
            info = info._replace(kind="choice", choices=choices[name])
        attrs[name] = field_for(info, textarea=name in textareas,
                                label=(labels or {}).get(name),
                                help_text=(helps or {}).get(name))
    return type(f"{section.title()}Form", (SchemaForm,), attrs)


def initial_for(form_class: type[SchemaForm], item: dict[str, Any] | None,
                files: dict[str, str] | None = None) -> dict[str, Any]:
    """What an item as written looks like in its form's widgets: "T2-T6" as five ticked
    boxes, a date as the date picker wants it (2026-04-01), a time as 06:30."""
    if not item:
        return {}
    out: dict[str, Any] = {}
    fields = form_class.base_fields
    for name, value in item.items():
        field = fields.get(name)
        if field is None or value is None:
            continue
        kind = getattr(field, "loa_kind", "text")
        if kind == "weekdays":
            out[name] = _weekdays(form_class.schema, name, value)
        elif kind in ("refs", "choices", "texts"):
            out[name] = [str(x) for x in (value if isinstance(value, list) else [value])]
        elif kind == "date":
            day = parse_date(value)
            out[name] = day.isoformat() if day else str(value)
        elif kind == "datetime":
            when = parse_datetime(value, None)
            out[name] = f"{when:%Y-%m-%dT%H:%M}" if when else str(value)
        elif kind == "file":
            by_name = {v: k for k, v in (files or {}).items()}
            out[name] = by_name.get(str(value), "")
        elif kind == "bool":
            out[name] = value is True
        else:
            out[name] = str(value)
    return out


def _weekdays(schema: Schema, name: str, value: Any) -> list[str]:
    from loa.schedule.model import WEEKDAYS_VI
    from loa.schema import Context

    try:
        days = schema.fields[name].type.parse(value, name, Context(), lambda _m: None)
    except ValueError:  # written wrong in the file: nothing ticked, loa says why on save
        return []
    return [WEEKDAYS_VI[d] for d in sorted(days)]
