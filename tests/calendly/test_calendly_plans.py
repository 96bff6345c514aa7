"""Which Calendly plans may connect (SPEC C5) and what a refused user is told."""
import pytest

from portal.calendly.plans import plan_allowed, plan_label, plan_refusal_message


@pytest.mark.parametrize("plan", ["professional", "standard", "teams", "enterprise"])
def test_paid_standard_teams_enterprise_may_connect(plan):
    assert plan_allowed(plan, "paid")


@pytest.mark.parametrize("plan", ["basic", "essentials", "professional", "teams", "enterprise"])
def test_any_trial_may_connect(plan):
    assert plan_allowed(plan, "trial")


@pytest.mark.parametrize("plan,stage", [("basic", "free"), ("basic", "paid"), ("essentials", "paid"),
                                        ("professional", "free"), ("teams", "free"), ("mystery", "paid"),
                                        ("", "")])
def test_free_essentials_lapsed_and_unknown_are_refused(plan, stage):
    assert not plan_allowed(plan, stage)


def test_free_refusal_names_the_plan_and_what_to_do():
    assert plan_refusal_message("basic", "free") == (
        "Your Calendly account is on the Free plan (basic). Calbridge needs Standard, Teams or Enterprise "
        "(a trial works too): upgrade in Calendly, then connect again.")


def test_essentials_refusal_names_the_plan():
    message = plan_refusal_message("essentials", "paid")
    assert message.startswith("Your Calendly account is on the Essentials plan (essentials).")
    assert "upgrade in Calendly, then connect again" in message


def test_lapsed_paid_plan_is_explained():
    message = plan_refusal_message("professional", "free")
    assert "Standard plan (professional) is no longer active" in message and "connect again" in message


def test_labels_use_calendly_names():
    assert plan_label("professional", "paid") == "Standard"
    assert plan_label("teams", "trial") == "Teams (trial)"
    assert plan_label("basic", "free") == "Free"
    assert plan_label("enterprise", "paid") == "Enterprise"
