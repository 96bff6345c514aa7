"""The form for appointments created in the portal (SPEC E6).

CSRF is checked app-wide by ``CSRFProtect`` (T3, header or form field), so
the form itself does not check it again: that lets PATCH/PUT callers send
the token as the ``X-CSRFToken`` header.
"""
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.email_addresses import is_valid_email

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class AppointmentForm(FlaskForm):
    class Meta:
        csrf = False

    title = StringField("Title", validators=[DataRequired("Give the appointment a title."), Length(max=200)])
    start = DateTimeLocalField("Start (UTC)", format=DATETIME_FORMATS,
                               validators=[DataRequired("Enter a start date and time.")])
    end = DateTimeLocalField("End (UTC)", format=DATETIME_FORMATS,
                             validators=[DataRequired("Enter an end date and time.")])
    contact_email = StringField("Contact email", validators=[Optional(), Length(max=254)])
    contact_name = StringField("Contact name", validators=[Optional(), Length(max=200)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("The end must be after the start.")

    def validate_contact_email(self, field):
        if field.data and not is_valid_email(field.data):
            raise ValidationError("Enter a valid email address, like name@example.com.")

    def validate_contact_name(self, field):
        if field.data and not (self.contact_email.data or "").strip():
            raise ValidationError("Add the contact's email too: contacts are matched by email.")
