"""The time grid's appointment links as HTML, for the day and week views.

Written here rather than in ``_time_grid.html``: a week holds ~500
appointments, and per appointment the template yielded some thirty pieces,
each looked up and escaped on its own, which was most of the page's render
time. The markup is what the template wrote, piece for piece; every value
that comes from a booking goes through markupsafe's ``escape``, as Jinja's
autoescape did.
"""
from markupsafe import Markup, escape

from portal import localtime

# The template's indentation around each link (the page's HTML is unchanged).
INDENT = "\n          "


def event_link(placed, appointment_url, on_day):
    """One appointment's link: its place in the grid, its words, and what a new booking announces."""
    a = placed.appointment
    title = escape(a.title)
    contact = escape(a.contact_name) if a.contact_name else ""
    start = escape(placed.start_text)
    announce = ""
    if not placed.cancelled:
        with_contact = f" with {contact}" if contact else ""
        announce = f' data-announce-id="{a.id}" data-announce="{title}{with_contact} at {start} on {on_day}"'
    contact_span = f' <span class="event-contact">{contact}</span>' if contact else ""
    return (f'<a class="{placed.css}" href="{appointment_url}{a.id}" title="{title}"{announce}>'
            f'<span class="event-time">{start}</span> <span class="event-title">{title}</span>{contact_span}'
            f' <span class="sr-only">{escape(placed.spoken)}</span></a>')


def column_links(column, appointment_url):
    """Every placed appointment of a ``grid.DayColumn`` as markup; ``appointment_url`` ends where the id goes."""
    url, on_day = escape(appointment_url), escape(localtime.day(column.day))
    return Markup("".join(f"{INDENT}{event_link(p, url, on_day)}{INDENT}" for p in column.placed))
