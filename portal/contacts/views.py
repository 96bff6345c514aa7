"""Contacts: the searchable list, adding one by hand, and the detail page.

SPEC E2 (contacts are unique by email within a subaccount), O3 (the assigned
user), T2 (another subaccount's contact is a 404).
"""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.contacts import bp, queries
from portal.contacts.forms import ContactForm
from portal.contacts.service import DuplicateEmail, create_contact
from portal.extensions import htmx
from portal.mail import contacts as contact_mail
from portal.models import Contact
from portal.pipeline import workflows
from portal.switching import get_scoped_or_offer
from portal.tenancy import current_subaccount, get_scoped_or_404, subaccount_required


@bp.route("/")
@subaccount_required
def index():
    """The list; the search box asks for the results fragment as the user types (HTMX)."""
    q = (request.args.get("q") or "").strip()[:200]
    tag = (request.args.get("tag") or "").strip()[:60]
    after, before = request.args.get("after"), request.args.get("before")
    page = queries.contact_page(current_subaccount(), q=q, tag=tag, after=after, before=before)
    context = {"page": page, "q": q, "tag": tag, "paged": bool(after or before)}
    if htmx:
        # Typed into the search box: the page's announcer says the count, not the whole list.
        context["found"] = queries.found_words(current_subaccount(), q=q, tag=tag)
        return render_template("contacts/_results.html", **context)
    return render_template("contacts/index.html", **context)


@bp.route("/new", methods=["GET", "POST"])
@subaccount_required
def new():
    form = ContactForm(formdata=request.form if request.method == "POST" else None)
    duplicate = None
    if request.method == "POST" and form.validate():
        try:
            contact = create_contact(current_subaccount(), form.name.data, form.email.data, current_user)
        except DuplicateEmail as exc:
            duplicate = exc.contact
            form.email.errors = ["This email is already used by another contact."]
        else:
            workflows.kick()  # a "Contact created" workflow starts now, not at the scheduler's sweep
            flash(f"Contact {contact.display_name} added.", "success")
            return redirect(url_for("contacts.detail", contact_id=contact.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, duplicate=duplicate), status


@bp.route("/<int:contact_id>")
@subaccount_required
def detail(contact_id):
    contact = get_scoped_or_offer(Contact, contact_id)  # another own subaccount's: the offer to switch
    return render_template(
        "contacts/detail.html", c=contact,
        booked=queries.booked_appointments(contact), as_guest=queries.guest_appointments(contact),
        shown=queries.APPOINTMENTS_SHOWN, dnd_email=contact_mail.is_dnd(contact),
        tags=queries.tags_of([contact.id]).get(contact.id, []),
        tasks=queries.tasks_of(contact), enrolments=queries.enrolments_of(contact),
    )


@bp.route("/<int:contact_id>/dnd/clear", methods=["POST"])
@subaccount_required
def clear_dnd(contact_id):
    """Let email reach the contact again (audited)."""
    contact = get_scoped_or_404(Contact, contact_id)
    if contact_mail.clear_dnd(contact, current_user.id):
        flash(f"{contact.display_name} can receive email again.", "success")
    return redirect(url_for("contacts.detail", contact_id=contact.id), 303)
