"""Encryption at rest for OAuth tokens and signing keys (SPEC C6)."""
import functools

from cryptography.fernet import Fernet, InvalidToken
from peewee import TextField

_fernet = None


def configure(key):
    """Bind the Fernet key from the app config; called by the app factory."""
    global _fernet
    _fernet = Fernet(key.encode() if isinstance(key, str) else key)
    _decrypt.cache_clear()


def encrypt(plaintext):
    if plaintext is None:
        return None
    return _fernet.encrypt(plaintext.encode()).decode()


def decrypt(ciphertext):
    if ciphertext is None:
        return None
    return _decrypt(_fernet, ciphertext)


# The intake reads a connection's signing key on every delivery; a ciphertext always
# decrypts to the same text under one key, so recent ones are remembered (per key).
@functools.lru_cache(maxsize=256)
def _decrypt(fernet, ciphertext):
    try:
        return fernet.decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:  # a changed key must not look like an empty token
        raise RuntimeError("stored secret cannot be decrypted with the configured key") from exc


class EncryptedTextField(TextField):
    """A text column whose value is Fernet-encrypted in the database."""

    def db_value(self, value):
        return encrypt(value)

    def python_value(self, value):
        return decrypt(value)
