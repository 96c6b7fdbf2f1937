"""The public API is exactly `fusebook.api.__all__`, every name documented, every example runnable."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fusebook import api

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
#: A documented name: a heading that starts with it in backticks, "### `plan(...)`".
HEADING = re.compile(r"^#{2,4} `([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def documented() -> list[str]:
    return HEADING.findall(DOC.read_text())


def test_every_public_name_exists() -> None:
    missing = [n for n in api.__all__ if not hasattr(api, n)]
    assert missing == []
    assert len(set(api.__all__)) == len(api.__all__)


def test_every_public_name_is_documented_in_docs_api_md() -> None:
    undocumented = sorted(set(api.__all__) - set(documented()))
    assert undocumented == [], f"add a `### \\`NAME\\`` section to docs/api.md for: {undocumented}"


def test_docs_api_md_documents_only_public_names() -> None:
    private = sorted(set(documented()) - set(api.__all__))
    assert private == [], f"docs/api.md documents names not in fusebook.api.__all__: {private}"


def test_every_public_function_has_a_docstring_and_type_hints() -> None:
    import inspect

    for name in api.__all__:
        obj = getattr(api, name)
        if inspect.isfunction(obj):
            assert obj.__doc__, name
            sig = inspect.signature(obj)
            assert sig.return_annotation is not inspect.Signature.empty, name
            assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name


def code_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL)


def test_the_examples_of_docs_api_md_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = code_blocks()
    assert len(blocks) >= 8
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "docs_api_md"}
    for n, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"docs/api.md (python block {n})", "exec"), namespace)
        except Exception as e:
            pytest.fail(f"python block {n} of docs/api.md fails: {type(e).__name__}: {e}\n{block}")
    out = capsys.readouterr().out
    assert "['CUSTOM_MAC']" in out  # the first example prints what its comment says
    assert os.getcwd() == str(ROOT)
