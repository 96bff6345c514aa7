"""Where a Send webhook step may post: http(s) only, never a loopback, private or link-local address
unless the operator allows it (``CALBRIDGE_WEBHOOK_ALLOW_PRIVATE``, for local receivers)."""
import ipaddress
import socket
from urllib.parse import urlsplit


class RefusedUrl(ValueError):
    pass


def _resolve(host, port):
    return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def check_url(url, allow_private=False, resolve=_resolve):
    """Return ``url`` if a step may post to it, else raise ``RefusedUrl`` saying why."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedUrl("The URL must start with https:// (or http://) and name a host.")
    if parts.username or parts.password:
        raise RefusedUrl("The URL must not carry a user name or password.")
    if allow_private:
        return url
    try:
        addresses = resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedUrl(f"The host {parts.hostname} cannot be resolved.") from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast \
                or ip.is_unspecified:
            raise RefusedUrl(f"The host {parts.hostname} resolves to a private address ({ip}); "
                             "webhooks go to public addresses only.")
    return url
