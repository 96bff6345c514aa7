"""Handing one message to the SMTP server named by ``CALBRIDGE_SMTP_URL`` (standard library smtplib)."""
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


class TransientMailError(Exception):
    """Worth trying again later: the server is down, busy, or answered 4xx."""


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): recorded on the message, not retried."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = 10

    @classmethod
    def from_url(cls, url, timeout=10):
        """``smtp://user:pass@host:587?starttls=1`` or ``smtps://user:pass@host:465``."""
        parts = urlsplit(url or "")
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("CALBRIDGE_SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
        query = parse_qs(parts.query)
        flag = (query.get("starttls") or ["0"])[0].lower()
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname, port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username or ""), password=unquote(parts.password or ""),
            starttls=flag in ("1", "true", "yes", "on"), implicit_tls=implicit, timeout=float(timeout),
        )


def deliver(message, settings):
    """Send ``message`` (an ``EmailMessage``); raise Transient- or PermanentMailError on failure."""
    try:
        if settings.implicit_tls:
            server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with server:
            if settings.starttls:
                server.starttls(context=ssl.create_default_context())
            if settings.username:
                server.login(settings.username, settings.password)
            refused = server.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        raise _by_code(min(codes) if codes else 550, f"The SMTP server refused the recipient ({text})") from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth refused, ...
        raise _by_code(exc.smtp_code, f"The SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentMailError(f"The SMTP server does not support what the settings ask: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, disconnect, TLS
        raise TransientMailError(f"The SMTP server {settings.host}:{settings.port} is unreachable: "
                                 f"{exc.__class__.__name__}: {exc}") from exc
    if refused:
        text = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in refused.items())
        raise PermanentMailError(f"The SMTP server refused some recipients ({text})")


def _by_code(code, text):
    return TransientMailError(text) if 400 <= int(code) < 500 else PermanentMailError(text)


def _text(raw):
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
