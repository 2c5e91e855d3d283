"""Where an installed service keeps its state when SIGAP_DATA_DIR is unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common import base_settings as config
from services.common.config import Settings


def test_explicit_data_dir_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIGAP_DATA_DIR", str(tmp_path / "x"))
    assert Settings().data_dir == tmp_path / "x"


def test_xdg_state_dir_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIGAP_DATA_DIR", raising=False)
    monkeypatch.setattr(config, "SYSTEM_DATA_DIR", tmp_path / "absent")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert Settings().data_dir == tmp_path / ".local" / "state" / "sigap"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert Settings().data_dir == tmp_path / "state" / "sigap"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert Settings().data_dir == tmp_path / ".local" / "state" / "sigap"


def test_system_dir_when_a_system_install_made_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIGAP_DATA_DIR", raising=False)
    system = tmp_path / "var-lib-sigap"
    system.mkdir()
    monkeypatch.setattr(config, "SYSTEM_DATA_DIR", system)
    assert Settings().data_dir == system
    monkeypatch.setattr(config.os, "access", lambda path, mode: False)  # made, but not for this user
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert Settings().data_dir == tmp_path / ".local" / "state" / "sigap"


def test_never_beside_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGAP_DATA_DIR", raising=False)
    assert config.REPO_ROOT not in Settings().data_dir.parents
