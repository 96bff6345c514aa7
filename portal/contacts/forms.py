"""The form for a contact added by hand (CSRF is checked app-wide, see calendars.forms)."""
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.email_addresses import is_valid_email


class ContactForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = StringField("Email", validators=[DataRequired("Enter the contact's email."), Length(max=254)])

    def validate_email(self, field):
        if not is_valid_email(field.data):
            raise ValidationError("Enter a valid email address, like name@example.com.")
