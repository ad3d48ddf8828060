"""Every 4xx/5xx has one JSON shape: {"error": {"code", "message", "details"}}."""

from pathlib import Path

from fastapi.testclient import TestClient

from mirp.app import create_app
from mirp.config import Settings
from mirp.errors import Conflict


def _app(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/api/_test/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/api/_test/conflict")
    async def conflict() -> None:
        raise Conflict("already on air", {"booth": "fr"})

    # routes added after create_app must come before the static mount at "/"
    app.router.routes.insert(0, app.router.routes.pop())
    app.router.routes.insert(0, app.router.routes.pop())
    return app


def test_error_shapes(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path), raise_server_exceptions=False) as client:
        r = client.get("/api/_test/conflict")
        assert r.status_code == 409
        assert r.json() == {"error": {"code": "conflict", "message": "already on air",
                                      "details": {"booth": "fr"}}}
        r = client.get("/api/_test/boom")
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal"
        assert "secret" not in r.text
        r = client.get("/api/no-such-endpoint")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
