"""The HTTP transport under every Calendly call: urllib3's ``Retry`` for 5xx and network errors.

401 and 429 are not retried here: ``CalendlyClient`` has its own rules for
them (renew once; wait out a short rate limit).
"""
import logging
import time
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger("portal.calendly.client")


class _Backoff(Retry):
    """urllib3's ``Retry`` pausing through the client's ``sleep`` (injectable), ``backoff * 2**(n-1)`` after try n."""

    sleep_function = staticmethod(time.sleep)

    def new(self, **kw):
        retry = super().new(**kw)
        retry.sleep_function = self.sleep_function
        return retry

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):
        path = urlsplit(url or "").path
        if response is not None:
            log.warning("Calendly %s %s -> %s (retried: %d so far)", method, path, response.status, len(self.history))
        elif error is not None:
            log.warning("Calendly %s %s: %s (retried: %d so far)", method, path, error.__class__.__name__,
                        len(self.history))
        return super().increment(method, url, response, error, *args, **kwargs)

    def get_backoff_time(self):
        tries = len(self.history)
        return self.backoff_factor * 2 ** (tries - 1) if tries else 0

    def _sleep_backoff(self):
        self.sleep_function(self.get_backoff_time())


def retrying(session, *, attempts, backoff, sleep):
    """``session`` with 5xx and network errors retried: ``attempts`` tries, ``backoff * 2**(n-1)`` apart."""
    retry = _Backoff(total=max(attempts - 1, 0), backoff_factor=backoff, status_forcelist=range(500, 600),
                     allowed_methods=None, raise_on_status=False, respect_retry_after_header=False)
    retry.sleep_function = sleep
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def json_body(resp):
    """A response's JSON object, or {} when it is none."""
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(resp):
    """Seconds to wait after a 429: ``Retry-After``, else ``X-RateLimit-Reset``, else a minute."""
    for header in ("Retry-After", "X-RateLimit-Reset"):
        value = resp.headers.get(header)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return 60.0
