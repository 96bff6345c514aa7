"""The SMTP side: aiosmtpd accepts the message, the handler writes it to the directory."""
import os
import time
import uuid

from aiosmtpd.controller import Controller


class DirectoryHandler:
    """aiosmtpd handler: one ``<arrival ns>-<uuid>.eml`` file per message, written atomically."""

    def __init__(self, directory, refuse_suffix=""):
        self.directory = directory
        # Recipients ending with this are refused with 550, as a real server refuses an unknown mailbox.
        self.refuse_suffix = (refuse_suffix or "").lower()
        os.makedirs(directory, exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_suffix and address.lower().endswith(self.refuse_suffix):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        trace = (f"X-Envelope-From: {envelope.mail_from}\r\n"
                 f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex}"
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(trace + envelope.content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.directory, name + ".eml"))
        return "250 Message accepted for delivery"


def start(directory, host="127.0.0.1", port=1025, refuse_suffix="", max_bytes=None):
    """Start the server in a background thread; returns the aiosmtpd ``Controller`` (``.stop()``)."""
    params = {"data_size_limit": max_bytes} if max_bytes else {}
    controller = Controller(DirectoryHandler(directory, refuse_suffix), hostname=host, port=port, **params)
    controller.start()
    return controller
