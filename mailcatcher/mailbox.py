"""Reading what the catcher received: the .eml files of its directory, oldest first."""
import email
import os
import shutil
import smtplib
import time
from email import policy


class Mailbox:
    def __init__(self, directory):
        self.directory = str(directory)

    def messages(self):
        """Every message received so far, as ``email.message.EmailMessage``, in arrival order."""
        if not os.path.isdir(self.directory):
            return []
        names = sorted(n for n in os.listdir(self.directory) if n.endswith(".eml"))
        out = []
        for name in names:
            with open(os.path.join(self.directory, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=policy.default))
        return out

    def to(self, address):
        address = address.lower()
        return [m for m in self.messages() if address in (m["X-Envelope-To"] or "").lower()]

    def wait_for(self, count=1, timeout=30.0, address=None, predicate=None):
        """Poll until at least ``count`` messages (for ``address``, matching ``predicate``) arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.to(address) if address else self.messages()
            if predicate:
                found = [m for m in found if predicate(m)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def clear(self):
        if os.path.isdir(self.directory):
            shutil.rmtree(self.directory)
        os.makedirs(self.directory, exist_ok=True)


def body(message, kind="plain"):
    """The text (``plain``) or ``html`` part of a message."""
    part = message.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else ""


def wait_until_listening(host, port, timeout=10.0):
    """Poll the SMTP port until the server says hello."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with smtplib.SMTP(host, port, timeout=2) as s:
                s.noop()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no SMTP server on {host}:{port} after {timeout}s")
            time.sleep(0.1)
