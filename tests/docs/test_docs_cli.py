"""``nploss docs``: the message without Sphinx, the build command, opening the result or printing
its path. The build itself is replaced by a stand-in, so these tests need no Sphinx."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import webbrowser

import pytest

from nploss import cli


@pytest.fixture
def no_sphinx(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sphinx" else real(name, *a))


@pytest.fixture
def with_docs_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every package of the docs extra found, whether or not it is installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name in cli.DOCS_REQUIREMENTS else real(name, *a)
    )


def fake_build(calls: list[list[str]], status: int = 0):  # noqa: ANN201
    def call(command: list[str]) -> int:
        calls.append(command)
        out = pathlib.Path(command[-1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "index.html").write_text("<html></html>")
        return status

    return call


def test_without_sphinx_names_the_install_command(no_sphinx: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("no build without Sphinx"))
    assert cli.main(["docs", "--no-open"]) == 2
    err = capsys.readouterr().err
    assert "sphinx" in err and "pip install -e '.[docs]'" in err


def test_no_open_builds_with_warnings_as_errors_and_prints_the_path(
    with_docs_tools: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", fake_build(calls))
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: pytest.fail("--no-open must not open a browser"))
    assert cli.main(["docs", "--no-open", "--out", str(tmp_path / "html")]) == 0
    (command,) = calls
    assert command[1:5] == ["-m", "sphinx", "-W", "-b"] and command[5] == "html"
    assert pathlib.Path(command[-2]).name == "docs" and (pathlib.Path(command[-2]) / "conf.py").exists()
    assert capsys.readouterr().out.strip() == str(tmp_path / "html" / "index.html")


def test_opens_the_index_in_a_browser(with_docs_tools: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    opened: list[str] = []
    monkeypatch.setattr(subprocess, "call", fake_build([]))
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    assert cli.main(["docs", "--out", str(tmp_path / "html")]) == 0
    assert opened == [(tmp_path / "html" / "index.html").resolve().as_uri()]
    assert capsys.readouterr().out == ""


def test_prints_the_path_where_there_is_no_browser(with_docs_tools: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(subprocess, "call", fake_build([]))
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: False)
    assert cli.main(["docs", "--out", str(tmp_path / "html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "html" / "index.html")


def test_a_failed_build_exits_1(with_docs_tools: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(subprocess, "call", fake_build([], status=2))
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: pytest.fail("nothing to open after a failed build"))
    assert cli.main(["docs", "--out", str(tmp_path / "html")]) == 1
    assert "build failed" in capsys.readouterr().err
