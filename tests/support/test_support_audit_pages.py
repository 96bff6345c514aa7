"""The audit log pages long histories (S2, D5)."""
from portal.extensions import db
from portal.models import audit


def test_audit_log_pages_newest_first(support_client):
    with db.connection_context():
        for n in range(60):
            audit.record("support.resync", target=f"connection #{n}")
    first = support_client.get("/support/audit").get_data(as_text=True)
    assert "Page 1 of 2 · 60 entries" in first
    assert "connection #59" in first and "connection #5<" not in first
    assert 'href="/support/audit?page=2">Older</a>' in first
    second = support_client.get("/support/audit?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "connection #0<" in second
    assert 'href="/support/audit?page=1">Newer</a>' in second
