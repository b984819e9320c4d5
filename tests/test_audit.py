import pytest

from ser_ref.audit import checks
from ser_ref.audit.__main__ import format_table, main
from ser_ref.audit.oracles import Skip


def test_gradient_checks_pass():
    rows = checks.run_all(only="nn_gradients")
    assert len(rows) == 4 and all(r.passed for r in rows), format_table(rows)


def test_a_missing_oracle_is_a_skip_with_its_reason(monkeypatch):
    def needs_missing(full=False):
        raise Skip("oracle 'nothing' not installed")

    monkeypatch.setattr(checks, "CHECKS", [needs_missing])
    rows = checks.run_all()
    assert rows[0].passed is None and "nothing" in rows[0].note


def test_a_failure_gives_a_nonzero_exit(monkeypatch, capsys):
    def bad(full=False):
        return [checks._le("stage", "ref", "err", 1.0, 1e-6)]

    monkeypatch.setattr(checks, "CHECKS", [bad])
    assert main([]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.slow
def test_full_default_audit_passes():
    rows = checks.run_all()
    assert not [r for r in rows if r.passed is False], format_table(rows)
