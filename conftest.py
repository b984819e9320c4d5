"""The docstring examples (``--doctest-modules`` over ser_ref/) write their files under pytest's
tmp_path, which pytest cleans up, instead of leaving tempfile.mkdtemp() folders in /tmp."""
import tempfile

import pytest


@pytest.fixture(autouse=True)
def _doctest_files_in_tmp_path(request, monkeypatch):
    if type(request.node).__name__ == "DoctestItem":
        monkeypatch.setattr(tempfile, "tempdir", str(request.getfixturevalue("tmp_path")))
