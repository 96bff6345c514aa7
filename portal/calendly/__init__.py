"""Everything that talks to Calendly: the HTTP client, OAuth, webhook signatures, plan rules."""
from portal.calendly.client import CalendlyClient
from portal.calendly.errors import (
    CalendlyError,
    NotFound,
    PlanNotSupported,
    RateLimited,
    ReconnectNeeded,
    TransientError,
    user_message,
)

__all__ = [
    "CalendlyClient",
    "CalendlyError",
    "NotFound",
    "PlanNotSupported",
    "RateLimited",
    "ReconnectNeeded",
    "TransientError",
    "user_message",
]
