"""Gunicorn settings for the portal: ``gunicorn -c portal/gunicorn_conf.py wsgi:app``.

A webhook URL carries its connection's secret token
(``/webhooks/calendly/<token>``), and a page's live poll and stream carry
its signed live token (``/live?t=…``, ``/live/stream?t=…``), so gunicorn's
access and error logs write ``/webhooks/calendly/***`` and ``t=***``
instead: every record is masked after it
is formatted, whatever ``--access-logformat`` says (request line, path,
Referer or any environ value). Command-line options still apply on top.
"""
import logging
import re

from gunicorn.glogging import Logger

WEBHOOK_TOKEN = re.compile(r"(/webhooks/calendly/)[^/?#\s\"']+")
LIVE_TOKEN = re.compile(r"(/live(?:/stream)?\?(?:[^\s\"'#]*&)?t=)[^&#\s\"']+")
MASK = r"\1***"


def mask(text):
    if "/webhooks/calendly/" in text:
        text = WEBHOOK_TOKEN.sub(MASK, text)
    if "/live" in text:
        text = LIVE_TOKEN.sub(MASK, text)
    return text


class MaskWebhookTokens(logging.Filter):
    """Rewrites a record's message with the webhook tokens masked (the record is formatted once, here)."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class MaskingLogger(Logger):
    """Gunicorn's logger with MaskWebhookTokens on its access and error logs."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, MaskWebhookTokens) for f in log.filters):
                log.addFilter(MaskWebhookTokens())


logger_class = MaskingLogger
