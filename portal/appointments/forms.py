"""The form for appointments created in the portal (SPEC E6).

CSRF is checked app-wide by ``CSRFProtect`` (T3, header or form field), so
the form itself does not check it again: that lets PATCH/PUT callers send
the token as the ``X-CSRFToken`` header.

Start and end are typed in the person's time zone (``portal.localtime``), and
the labels name it; ``utc_data()`` is what is stored.
"""
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal import localtime
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = localtime.current_zone()
        self.start.label.text = f"Start ({self.zone.key})"
        self.end.label.text = f"End ({self.zone.key})"

    @classmethod
    def from_utc(cls, formdata=None, data=None):
        """A form showing stored (UTC) start and end as local wall-clock times."""
        zone = localtime.current_zone()
        data = dict(data or {})
        for name in ("start", "end"):
            data[name] = localtime.as_local_naive(data.get(name), zone)
        return cls(formdata=formdata, data=data)

    def _utc(self, field):
        try:
            return localtime.to_utc(field.data, self.zone)
        except localtime.NonexistentTime as exc:
            raise ValidationError(str(exc)) from None

    def validate_start(self, field):
        if field.data:
            self._utc(field)

    def validate_end(self, field):
        if not field.data:
            return
        end = self._utc(field)
        if self.start.data and not self.start.errors:
            try:
                start = localtime.to_utc(self.start.data, self.zone)
            except localtime.NonexistentTime:
                return
            if end <= start:  # compared in UTC: the fall-back hour repeats wall-clock times
                raise ValidationError("The end must be after the start.")

    def utc_data(self):
        """The form's data with start and end in UTC, as the database keeps them."""
        return {**self.data, "start": localtime.to_utc(self.start.data, self.zone),
                "end": localtime.to_utc(self.end.data, self.zone)}

    def validate_contact_email(self, field):
        if field.data and not is_valid_email(field.data):
            raise ValidationError("Enter a valid email address, like name@example.com.")

    def validate_contact_name(self, field):
        if field.data and not (self.contact_email.data or "").strip():
            raise ValidationError("Add the contact's email too: contacts are matched by email.")
