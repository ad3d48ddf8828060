"""Settings: defaults that run with nothing installed, environment overrides, a kept secret."""

from pathlib import Path

import pytest

from mirp.config import Settings


def test_defaults_use_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path.resolve()}/mirp.sqlite3"
    assert s.redis_url is None
    assert s.ice_servers == []
    assert s.resolved_base_url() == "http://127.0.0.1:8000"


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    second = Settings(data_dir=tmp_path).resolved_secret_key()
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIRP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MIRP_PORT", "9100")
    monkeypatch.setenv(
        "MIRP_ICE_SERVERS", "stun:stun.example.org:3478,turn:u:p@turn.example.org:3478"
    )
    monkeypatch.setenv("MIRP_LIMITS__MAX_MESSAGE_BYTES", "1024")
    s = Settings()
    assert s.port == 9100 and s.data_dir == tmp_path
    assert s.ice_servers[0].urls == ["stun:stun.example.org:3478"]
    assert (s.ice_servers[1].username, s.ice_servers[1].credential) == ("u", "p")
    assert s.ice_servers[1].urls == ["turn:turn.example.org:3478"]
    assert s.limits.max_message_bytes == 1024


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRP_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        Settings()


def test_base_url_for_a_wildcard_address_and_tls(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, host="0.0.0.0", port=8443, tls_certfile=tmp_path / "c.pem",
                 tls_keyfile=tmp_path / "k.pem")
    assert s.resolved_base_url() == "https://127.0.0.1:8443"
    public = Settings(data_dir=tmp_path, public_base_url="https://mirp.example/")
    assert public.resolved_base_url() == "https://mirp.example"
