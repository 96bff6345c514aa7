"""The admin CLI contract (kept exactly: used by checks outside the project)."""
from portal.extensions import db
from portal.models import Membership, Subaccount, User


def test_create_subaccount_user_and_support(runner):
    assert runner.invoke(args=["admin", "create-subaccount", "Acme Dental"]).exit_code == 0
    result = runner.invoke(
        args=["admin", "create-user", "Ann@Acme.test", "--password", "Quiet-Harbor-42", "--subaccount", "Acme Dental",
              "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    runner.invoke(args=["admin", "create-subaccount", "Brightside"])
    # An existing user gets the extra membership; the password is unchanged.
    result = runner.invoke(
        args=["admin", "create-user", "ann@acme.test", "--password", "other", "--subaccount", "Brightside",
              "--role", "user"]
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["admin", "create-support", "help@agency.test", "--password", "Lantern-Orbit-77"]).exit_code == 0
    with db.connection_context():
        ann = User.get(User.email == "ann@acme.test")
        assert ann.check_password("Quiet-Harbor-42")
        roles = {m.subaccount.name: m.role for m in Membership.select().where(Membership.user == ann)}
        assert roles == {"Acme Dental": "admin", "Brightside": "user"}
        assert User.get(User.email == "help@agency.test").is_support


def test_create_user_in_unknown_subaccount_fails_clearly(runner):
    result = runner.invoke(args=["admin", "create-user", "x@y.test", "--password", "p", "--subaccount", "Nope"])
    assert result.exit_code != 0
    assert "No subaccount called 'Nope'" in result.output
    with db.connection_context():
        assert not Subaccount.select().exists()


def test_a_weak_password_is_refused_with_the_reason_and_nothing_is_created(runner):
    runner.invoke(args=["admin", "create-subaccount", "Acme Dental"])
    for weak, reason in (("", "at least 10 characters"), ("short-1", "at least 10 characters"),
                         ("password123", "too common"), ("qwertyuiop", "too common"),
                         ("ann@acme.test1", "too common")):
        result = runner.invoke(args=["admin", "create-user", "ann@acme.test", "--password", weak,
                                     "--subaccount", "Acme Dental"])
        assert result.exit_code != 0, weak
        assert "Password refused" in result.output and reason in result.output, (weak, result.output)
    result = runner.invoke(args=["admin", "create-support", "help@agency.test", "--password", "password1234"])
    assert result.exit_code != 0 and "too common" in result.output
    with db.connection_context():
        assert not User.select().exists()


def test_the_demo_password_meets_the_policy():
    from portal import passwords
    from portal.demo import DEMO_PASSWORD

    assert passwords.problem(DEMO_PASSWORD) is None


def test_the_cli_waits_for_the_sqlite_write_lock_instead_of_failing(runner, stack):
    """While the stack writes (here: a transaction held 3 s), create-user waits for the lock and succeeds."""
    import sqlite3
    import threading

    if not stack["database_url"].startswith("sqlite:///"):
        assert runner.invoke(args=["admin", "create-subaccount", "Acme Dental"]).exit_code == 0
        return  # PostgreSQL has row locks: nothing to wait for here
    runner.invoke(args=["admin", "create-subaccount", "Acme Dental"])
    holding, done = threading.Event(), threading.Event()

    def busy_stack():
        other = sqlite3.connect(stack["database_url"][len("sqlite:///"):], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO subaccount (name, reflect_cancellations, created_at, email_sender_name, time_zone) "
                      "VALUES ('Busy', 0, '2030-01-01 00:00:00', '', 'UTC')")
        holding.set()
        done.wait(3)
        other.execute("COMMIT")
        other.close()

    locker = threading.Thread(target=busy_stack)
    locker.start()
    assert holding.wait(10)
    try:
        result = runner.invoke(args=["admin", "create-user", "ann@acme.test", "--password", "Quiet-Harbor-42",
                                     "--subaccount", "Acme Dental"])
    finally:
        done.set()
        locker.join(10)
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert User.get(User.email == "ann@acme.test").check_password("Quiet-Harbor-42")
