"""``portal.crypto``: a remembered decryption never outlives the key it was made with (SPEC C6)."""
import pytest
from cryptography.fernet import Fernet

from portal import crypto
from portal.models import CalendlyConnection, Subaccount
from portal.pipeline import intake
from sync.helpers import make_connection


@pytest.fixture
def other_key(app):
    """A second Fernet key for the test to configure; the app's own key is put back afterwards."""
    yield Fernet.generate_key().decode()
    crypto.configure(app.config["ENCRYPTION_KEY"])


def test_a_value_decrypted_just_before_a_key_change_no_longer_decrypts(app, other_key):
    stored = crypto.encrypt("per-connection-key")
    assert crypto.decrypt(stored) == "per-connection-key"  # now remembered

    crypto.configure(other_key)

    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        crypto.decrypt(stored)


def test_going_back_to_the_first_key_forgets_what_the_other_one_decrypted(app, other_key):
    crypto.configure(other_key)
    foreign = crypto.encrypt("someone else's token")
    assert crypto.decrypt(foreign) == "someone else's token"

    crypto.configure(app.config["ENCRYPTION_KEY"])

    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        crypto.decrypt(foreign)


def test_a_stored_signing_key_is_refused_after_a_key_change(app_ctx, people, other_key):
    """Read by Peewee and by the intake's compiled lookup first, so both paths had it remembered."""
    conn = make_connection(people.user("ada@acme.test"), Subaccount.get(name="Acme Dental"),
                           signing_key="per-connection-key")
    assert CalendlyConnection.get_by_id(conn.id).signing_key == "per-connection-key"
    assert intake._CONNECTION_BY_TOKEN.first(token=conn.webhook_token)[2] == "per-connection-key"

    crypto.configure(other_key)

    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        CalendlyConnection.get_by_id(conn.id)
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        intake._CONNECTION_BY_TOKEN.first(token=conn.webhook_token)
