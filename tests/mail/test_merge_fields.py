"""Merge fields: sandboxed, strict, refused at Save with the field and the line named."""
import pytest

from portal.merge_fields import MergeFieldError, context_for, render, sample_context, validate
from portal.models import Appointment, Contact, Subaccount, User
from portal.timeutil import utcnow


def test_known_fields_render_from_the_objects():
    sub = Subaccount(name="Acme Dental")
    contact = Contact(name="Grace Hopper", email="grace@example.com", subaccount=sub)
    owner = User(name="Ann Owner", email="ann@acme.test")
    start = utcnow().replace(year=2030, month=2, day=4, hour=10, minute=0, second=0, microsecond=0)
    appt = Appointment(title="Intro call", start=start, end=start, calendar_name="Intro Call", owner=owner,
                       status="booked")
    text = "Hi {{ contact.first_name }}, {{ appointment.calendar }} on {{ appointment.start }} with {{ owner.name }}."
    assert validate(text, "Body") == text
    assert render(text, context_for(contact, appt)) == \
        "Hi Grace, Intro Call on Mon 04 Feb 2030, 10:00 UTC with Ann Owner."


@pytest.mark.parametrize("source, field, line, message", [
    ("Hello {{ contact.nme }}", "Subject", 1, "unknown field contact.nme; contact has name, first_name, email"),
    ("Hi\n\n{{ config }}", "Body", 3, "unknown field config"),
    ("Hi\n{{ contact }}", "Body", 2, "contact alone is not a field"),
    ("Hi\n{{ contact.name.__class__.__mro__ }}", "Body", 2, "names starting with _ are never allowed"),
    ("Hi\n\n{{ contact.name|attr(\"__class__\") }}", "Body", 3, "SecurityError"),
    ("{% for x in range(10**9) %}{% endfor %}", "Body", 1, "unknown field range"),
    ("Line 1\n{{ contact.name | nosuchfilter }}", "Body", 2, "template error: No filter named 'nosuchfilter'"),
    ("{% if %}", "Subject", 1, "template error"),
    ("{{ self }}", "Body", 1, "unknown field self"),
    ("{{ cycler.__init__.__globals__ }}", "Body", 1, "never allowed"),
])
def test_unknown_fields_and_template_errors_are_refused_naming_the_field_and_line(source, field, line, message):
    with pytest.raises(MergeFieldError) as info:
        validate(source, field)
    err = info.value
    assert (err.field, err.line) == (field, line), str(err)
    assert message in err.message, str(err)
    assert str(err).startswith(f"{field}, line {line}: ")


def test_html_bodies_escape_what_contacts_typed():
    ctx = sample_context()
    ctx["contact"]["name"] = "<script>alert(1)</script>"
    assert render("<p>{{ contact.name }}</p>", ctx, html=True) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert render("{{ contact.name }}", ctx) == "<script>alert(1)</script>"  # text bodies stay text


def test_names_a_text_sets_itself_may_be_used():
    text = "{% set first = contact.first_name %}Hi {{ first }}"
    assert render(validate(text), sample_context()) == "Hi Grace"
