"""Merge fields in texts people write (email subjects and bodies): ``{{ contact.name }}`` and friends.

Rendered by Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined`` over
plain dictionaries of strings, so a template reaches no Python object and no
setting. ``validate`` is for Save: it refuses an unknown field or a template
error and names the field being edited and the line; ``render`` is for the
moment of sending.
"""
from datetime import datetime

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from portal import localtime

# Every field a text may use: object -> its fields.
FIELDS = {
    "contact": ("name", "first_name", "email"),
    "appointment": ("title", "start", "end", "calendar", "status"),
    "owner": ("name", "first_name", "email"),
    "subaccount": ("name",),
}
TEMPLATE_NAME = "<merge>"

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


class MergeFieldError(ValueError):
    """A text that cannot be used, with where: ``Subject, line 1: unknown field contact.nme``."""

    def __init__(self, field, line, message):
        self.field, self.line, self.message = field, line, message
        where = f"{field}, line {line}" if line else field
        super().__init__(f"{where}: {message}")


def known_fields():
    return [f"{obj}.{attr}" for obj, attrs in FIELDS.items() for attr in attrs]


def validate(source, field="Text", html=False):
    """Refuse ``source`` with a ``MergeFieldError`` if it would fail at send time; return it unchanged."""
    env = _html_env if html else _text_env
    try:
        tree = env.parse(source, name=TEMPLATE_NAME)
    except TemplateSyntaxError as exc:
        raise MergeFieldError(field, exc.lineno, f"template error: {exc.message}") from exc
    for line, message in _field_problems(tree):
        raise MergeFieldError(field, line, message)
    render(source, sample_context(), field=field, html=html)  # filters and tests misused, sandbox refusals
    return source


def render(source, context, field="Text", html=False):
    """``source`` with the fields of ``context`` (see ``context_for``) filled in."""
    env = _html_env if html else _text_env
    try:
        return env.from_string(source).render(context)
    except TemplateSyntaxError as exc:
        raise MergeFieldError(field, exc.lineno, f"template error: {exc.message}") from exc
    except (TemplateError, TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as exc:
        raise MergeFieldError(field, _template_line(exc), f"{exc.__class__.__name__}: {exc}") from exc


def _field_problems(tree):
    """(line, message) for every name or attribute outside ``FIELDS`` (names bound in the text excepted)."""
    local = set()
    for bound in tree.find_all((nodes.For, nodes.Assign, nodes.AssignBlock)):
        targets = [bound.target, *bound.target.find_all(nodes.Name)]
        local |= {t.name for t in targets if isinstance(t, nodes.Name)}
        if isinstance(bound, nodes.For):
            local.add("loop")
    for node in tree.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            yield node.lineno, f"{node.attr} is not a field (names starting with _ are never allowed)"
    roots = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node.node, nodes.Name) or node.node.name in local:
            continue
        roots.add(id(node.node))
        obj = node.node.name
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if obj not in FIELDS:
            yield node.lineno, f"unknown field {obj}.{attr}; the fields are {', '.join(known_fields())}"
        elif attr not in FIELDS[obj]:
            yield node.lineno, f"unknown field {obj}.{attr}; {obj} has {', '.join(FIELDS[obj])}"
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or id(name) in roots or name.name in local:
            continue
        if name.name in FIELDS:
            yield name.lineno, f"{name.name} alone is not a field; use one of {', '.join(f'{name.name}.{a}' for a in FIELDS[name.name])}"
        else:
            yield name.lineno, f"unknown field {name.name}; the fields are {', '.join(known_fields())}"


def _template_line(exc):
    """The template line an error was raised at (Jinja rewrites tracebacks to point at it)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (TEMPLATE_NAME, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _when(dt, tz=None):
    """``Mon 04 Feb 2030, 10:00 UTC`` / ``Mon 04 Feb 2030, 4:00 AM CST``: in the subaccount's zone."""
    if not isinstance(dt, datetime):
        return ""
    tz = tz or localtime.zone("UTC")
    local = localtime.localize(dt, tz)
    return f"{local:%a %d %b %Y}, {localtime.clock_text(local, tz)} {localtime.abbreviation(local)}"


def _person(name, email):
    name = name or ""
    return {"name": name or email or "", "first_name": (name.split() or [""])[0], "email": email or ""}


def context_for(contact=None, appointment=None, owner=None, subaccount=None):
    """The fields of these objects as plain strings (what a template may see, and nothing more)."""
    owner = owner or (appointment.owner if appointment is not None else None)
    subaccount = subaccount or (contact.subaccount if contact is not None else None)
    if subaccount is None and appointment is not None:
        subaccount = appointment.subaccount
    tz = localtime.zone_for(subaccount=subaccount)
    return {
        "contact": _person(contact.name, contact.email) if contact else _person("", ""),
        "appointment": {
            "title": appointment.title, "start": _when(appointment.start, tz), "end": _when(appointment.end, tz),
            "calendar": appointment.calendar_name or ("portal" if appointment.source == "portal" else ""),
            "status": appointment.status,
        } if appointment else dict.fromkeys(FIELDS["appointment"], ""),
        "owner": _person(owner.name, owner.email) if owner else _person("", ""),
        "subaccount": {"name": subaccount.name if subaccount else ""},
    }


def sample_context():
    """What ``validate`` renders with: every field, with a plausible value."""
    start = datetime(2030, 2, 4, 10, 0)
    return {
        "contact": _person("Grace Hopper", "grace@example.com"),
        "appointment": {"title": "Intro call", "start": _when(start), "end": _when(start.replace(minute=30)),
                        "calendar": "Intro call", "status": "booked"},
        "owner": _person("Ann Owner", "ann@example.com"),
        "subaccount": {"name": "Acme Dental"},
    }
