"""Which Calendly plans may connect (SPEC C5).

The API reports ``plan`` (basic, essentials, professional, teams,
enterprise; "standard" is Calendly's current name for professional, so both
are mapped) and ``stage`` (trial, free, paid). Standard, Teams and
Enterprise may connect, and so may any account on a trial; Free (basic),
Essentials, lapsed subscriptions (stage free) and unknown plans are refused.
"""

PLAN_NAMES = {
    "basic": "Free",
    "free": "Free",
    "essentials": "Essentials",
    "professional": "Standard",
    "standard": "Standard",
    "teams": "Teams",
    "enterprise": "Enterprise",
}
ALLOWED_PLANS = ("professional", "standard", "teams", "enterprise")
REQUIREMENT = "Calbridge needs Standard, Teams or Enterprise (a trial works too)"


def _norm(value):
    return (value or "").strip().lower()


def plan_name(plan):
    """The name Calendly shows its customers, e.g. ``professional`` -> ``Standard``."""
    plan = _norm(plan)
    return PLAN_NAMES.get(plan, plan.replace("_", " ").title() or "Unknown")


def plan_label(plan, stage=""):
    """Short text for the Connections page, e.g. ``Standard (trial)``."""
    name = plan_name(plan)
    stage = _norm(stage)
    return f"{name} ({stage})" if stage in ("trial", "free") and name != "Free" else name


def plan_allowed(plan, stage):
    """C5: may an organization on ``plan``/``stage`` connect and keep syncing?"""
    plan, stage = _norm(plan), _norm(stage)
    if stage == "trial":
        return True
    if stage == "free":
        return False
    return plan in ALLOWED_PLANS


def plan_refusal_message(plan, stage):
    """C5: why the account is refused, naming the plan, and what to do about it."""
    raw, stage = _norm(plan) or "unknown", _norm(stage)
    name = plan_name(raw)
    if raw in ALLOWED_PLANS and stage == "free":
        return (
            f"Your Calendly {name} plan ({raw}) is no longer active: the account is on the free tier. "
            f"{REQUIREMENT}: renew or upgrade in Calendly, then connect again."
        )
    return (
        f"Your Calendly account is on the {name} plan ({raw}). "
        f"{REQUIREMENT}: upgrade in Calendly, then connect again."
    )
