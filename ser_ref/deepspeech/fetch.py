"""Obtain the DeepSpeech-architecture model on a fresh machine from the Python package registry.

The PyPI source distribution ``armspeech==0.1.4`` (MIT) ships a Coqui STT model with DeepSpeech's
layout. We download it with pip (``pip download --no-deps``: nothing is installed or run), check the
archive's and the member's sha256 against the values below, and extract only that member.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..files.atomic import atomic_path
from ..errors import MachineError, WeightsError
from ..files.hashing import file_sha256 as sha256_file

PACKAGE = "armspeech==0.1.4"
SDIST_NAME = "armspeech-0.1.4.tar.gz"
SDIST_SHA256 = "29723aee9b13f59c77970b3087f10552aebaadc1ca2fba42bf81ab397c507d9f"
MEMBER = "armspeech-0.1.4/src/model/model.tflite"
MODEL_SHA256 = "3b834da11f2d0a1a5079b44dd5d5da2b1955dec56474ba11b4c3793e934787bc"


def pip_download(dest: Path, package: str = PACKAGE, log=print) -> Path:
    """Run ``python -m pip download --no-deps --ignore-requires-python <package> -d dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python",
           package, "-d", str(dest)]
    log("running: " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise WeightsError(f"could not download {package} with pip (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-800:]}")
    found = sorted(dest.glob("*.tar.gz"))
    if not found:
        raise WeightsError(f"pip download of {package} produced no source archive (.tar.gz) in {dest}: "
                           f"{sorted(p.name for p in dest.iterdir())}")
    return found[0]


def extract_model(sdist: Path, out_path: Path, *, sdist_sha256: str = SDIST_SHA256,
                  member: str = MEMBER, model_sha256: str = MODEL_SHA256, log=print) -> Path:
    """Check ``sdist``'s hash, extract ``member`` to ``out_path`` atomically, check its hash.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "pkg.tar.gz").write_bytes(b"not the package")
    15
    >>> extract_model(d / "pkg.tar.gz", d / "model.tflite", log=lambda *a: None)
    Traceback (most recent call last):
    ...
    ser_ref.errors.WeightsError: ...pkg.tar.gz: sha256 ... does not match the expected 29723aee...
    """
    got = sha256_file(sdist)
    if got != sdist_sha256:
        raise WeightsError(f"{sdist}: sha256 {got} does not match the expected {sdist_sha256}")
    log(f"verified {sdist.name} sha256 {got}")
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            f = tar.extractfile(member)
            if f is None:
                raise KeyError(member)
            with atomic_path(out_path) as tmp:
                with open(tmp, "wb") as out:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        out.write(block)
                got = sha256_file(tmp)
                if got != model_sha256:
                    raise WeightsError(f"{sdist}:{member}: sha256 {got} does not match the expected "
                                       f"{model_sha256}")
    except KeyError as exc:
        raise WeightsError(f"{sdist}: archive has no member {member}") from exc
    except MachineError:  # weights/ full or read-only: the machine's fault, not the archive's
        raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise WeightsError(f"{sdist}: corrupt archive ({exc})") from exc
    log(f"extracted {member} -> {out_path} (sha256 verified)")
    return Path(out_path)


def fetch_model(out_path, *, download=pip_download, log=print, **hashes) -> Path:
    """Download the registry package, verify both hashes, extract the model to ``out_path``.

    Examples
    --------
    >>> import tempfile
    >>> def offline(dest, log):                          # stands in for pip download
    ...     (dest / "pkg.tar.gz").write_bytes(b"x"); return dest / "pkg.tar.gz"
    >>> fetch_model(Path(tempfile.mkdtemp()) / "m.tflite", download=offline, log=lambda *a: None)
    Traceback (most recent call last):
    ...
    ser_ref.errors.WeightsError: ...pkg.tar.gz: sha256 ... does not match the expected ...
    """
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="ser_ref_fetch_") as tmp:
        log(f"fetching the DeepSpeech-architecture model from the registry package {PACKAGE}")
        sdist = download(Path(tmp), log=log)
        return extract_model(Path(sdist), out_path, log=log, **hashes)
