import pytest
import soundfile as sf
from conftest import needs

from ser_ref.audit import oracle_checks as checks
from ser_ref.commands.audit import format_table, main
from ser_ref.audit.oracles import Skip


def test_gradient_checks_pass():
    rows = checks.run_all(only="nn_gradients")
    assert len(rows) == 4 and all(r.passed for r in rows), format_table(rows)


def test_a_missing_oracle_is_a_skip_with_its_reason(monkeypatch):
    def needs_missing(full=False, speech=None):
        raise Skip("oracle 'nothing' not installed")

    monkeypatch.setattr(checks, "CHECKS", [needs_missing])
    rows = checks.run_all()
    assert rows[0].passed is None and "nothing" in rows[0].note


def test_a_failure_gives_a_nonzero_exit(monkeypatch, capsys):
    def bad(full=False, speech=None):
        return [checks._le("stage", "ref", "err", 1.0, 1e-6)]

    monkeypatch.setattr(checks, "CHECKS", [bad])
    assert main([]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_a_skip_fails_the_audit_in_strict_mode(monkeypatch, capsys):
    def needs_missing(full=False, speech=None):
        raise Skip("oracle 'nothing' not installed")

    monkeypatch.setattr(checks, "CHECKS", [needs_missing])
    monkeypatch.delenv("SER_REF_STRICT", raising=False)
    assert main([]) == 0
    monkeypatch.setenv("SER_REF_STRICT", "1")
    assert main([]) == 1
    assert "skipped: needs_missing" in capsys.readouterr().err


def test_only_matching_nothing_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--only", "no_such_check"])
    assert exc.value.code != 0
    assert "'no_such_check' matches no check" in capsys.readouterr().err


def test_a_corrupt_model_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(b"TFL3" + bytes(range(256)) * 8)
    monkeypatch.setenv("SER_REF_MODEL", str(bad))
    assert main(["--only", "mfcc"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and str(bad) in out.err
    monkeypatch.setenv("SER_REF_MODEL", str(tmp_path / "absent.tflite"))
    assert main(["--only", "layer1"]) == 2
    assert "absent.tflite: file not found" in capsys.readouterr().err


def test_root_without_corpus_is_an_error(tmp_path, capsys):
    assert main(["--root", str(tmp_path)]) == 2
    assert "--root needs --corpus" in capsys.readouterr().err


def test_model_checks_run_on_a_users_corpus(tmp_path, model_path, monkeypatch, capsys):
    """--corpus/--root: the MFCC check reads the user's files (here two synthetic voices written
    under RAVDESS names), beside the generated signals."""
    from ser_ref.corpora.synthetic import utterance

    for actor, emo, label in (("01", "05", "anger"), ("02", "04", "sadness")):
        f = tmp_path / f"Actor_{actor}" / f"03-01-{emo}-01-01-01-{actor}.wav"
        f.parent.mkdir()
        sf.write(f, utterance(int(actor), label), 16000, subtype="PCM_16")
    monkeypatch.setenv("SER_REF_MODEL", str(model_path))
    assert main(["--only", "mfcc", "--corpus", "ravdess", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 signals (2 ravdess)" in out and "PASS" in out


def test_egemaps_runs_on_synthetic_voices_without_real_speech():
    needs("opensmile")
    rows = checks.egemaps_vs_opensmile(speech=checks.Speech())
    assert "synthetic-voice" in rows[0].reference and all(r.passed for r in rows), format_table(rows)


@pytest.mark.slow
def test_full_default_audit_passes():
    rows = checks.run_all()
    assert not [r for r in rows if r.passed is False], format_table(rows)
