"""One address for the portal: pages asked for on another of its names go to ``PORTAL_BASE_URL`` (issue 16, 9).

The session cookie belongs to the host name the browser used, while Calendly
sends the browser back to the OAuth callback on the base URL's host. Signing
in at http://127.0.0.1:5000 while the base URL says http://localhost:5000
therefore loses the session on the way back ("We could not verify this
Calendly sign-in"). Redirecting every page to the base URL's host, same path
and query, before anyone signs in keeps the whole visit on one cookie.

Only GET and HEAD are redirected (a form posted to the other name fails its
CSRF check as before, and a redirect would drop its body). Machines calling
the portal keep working on any trusted name: Calendly's and the sandbox's
webhooks, the pages' live poll and stream (the stream is on the live process's port), the support console's JSON for monitoring,
and the static files.
"""
from urllib.parse import urlsplit

from flask import redirect, request

NOT_REDIRECTED = {"webhooks.calendly", "live.poll", "live.stream", "live.health", "support.api_connections", "static"}
DEFAULT_PORTS = {"http": "80", "https": "443"}


def netloc(scheme, host):
    """``host[:port]`` in lower case, without the scheme's default port."""
    host = (host or "").lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and host.endswith(":" + default):
        host = host[: -len(default) - 1]
    return host


def init_app(app):
    if not app.config.get("CANONICAL_HOST_REDIRECT"):
        return
    base = urlsplit(app.config["PORTAL_BASE_URL"])
    if not base.netloc:
        return
    canonical = netloc(base.scheme, base.netloc)
    origin = f"{base.scheme}://{base.netloc}"

    @app.before_request
    def _to_the_base_url():
        if request.method not in ("GET", "HEAD") or request.endpoint in NOT_REDIRECTED:
            return None
        if netloc(request.scheme, request.host) == canonical:
            return None
        path = request.full_path if request.query_string else request.path
        return redirect(origin + path, 302)
