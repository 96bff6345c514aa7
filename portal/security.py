"""Production settings every response and request goes through: headers, hosts, proxies, cookies.

- Security headers on every response: a Content-Security-Policy with no
  inline script or style (the pages' behaviour lives in ``static/app.js``),
  no framing (``frame-ancestors 'none'`` and ``X-Frame-Options``), no MIME
  sniffing, and no full URL in the Referer sent elsewhere.
- ``TRUSTED_HOSTS`` (Flask 3.1) from ``PORTAL_BASE_URL`` unless given: a
  request for another ``Host`` is a 400, so no redirect or link is built
  from an attacker's host name. A loopback base URL trusts every loopback name.
- ``PROXY_COUNT`` proxies in front (default 0): Werkzeug's ``ProxyFix``
  trusts that many ``X-Forwarded-*`` hops, and no more.
- An https base URL makes the session cookie ``Secure``.
"""
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy(app):
    """Our own files only; forms may also go to Calendly's sign-in (the Connect button redirects there)."""
    from portal.live import stream_origin

    form_targets = " ".join(["'self'", _origin(app.config["CALENDLY_AUTH_BASE"])])
    connect_to = " ".join(filter(None, ["'self'", stream_origin(app.config)]))  # the live process's port
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src {connect_to}",
        "object-src 'none'",
        "base-uri 'none'",
        f"form-action {form_targets}",
        "frame-ancestors 'none'",
    ])


def _origin(url):
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def trusted_hosts(base_url):
    """The host names a request may name: the base URL's, or every loopback name for a local base URL."""
    host = urlsplit(base_url).hostname
    if not host:
        return None
    return list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else [host]


def init_app(app):
    config = app.config
    if config.get("TRUSTED_HOSTS") is None:
        config["TRUSTED_HOSTS"] = trusted_hosts(config["PORTAL_BASE_URL"])
    elif isinstance(config["TRUSTED_HOSTS"], str):  # CALBRIDGE_TRUSTED_HOSTS="a.example,b.example"
        config["TRUSTED_HOSTS"] = [h.strip() for h in config["TRUSTED_HOSTS"].split(",") if h.strip()]
    if urlsplit(config["PORTAL_BASE_URL"]).scheme == "https":
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
    proxies = int(config.get("PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)

    built = {}  # LIVE_STREAM_URL -> the headers (the CSP names the live process's origin)

    def headers_now():
        key = config.get("LIVE_STREAM_URL")
        if key not in built:
            headers = dict(HEADERS, **{"Content-Security-Policy": content_security_policy(app)})
            if config["SESSION_COOKIE_SECURE"]:
                headers["Strict-Transport-Security"] = "max-age=31536000"
            built[key] = headers
        return built[key]

    @app.after_request
    def _security_headers(response):
        for name, value in headers_now().items():
            response.headers.setdefault(name, value)
        return response
