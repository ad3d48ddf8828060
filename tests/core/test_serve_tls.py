"""`mirp serve` over https (what remote browsers need for the microphone), as a real process."""

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.procs import free_port
from tests.support.wait import Seen, until

pytestmark = pytest.mark.process


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_serve_over_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = {**os.environ, "MIRP_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mirp", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--tls-certfile", str(cert), "--tls-keyfile", str(key)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    def healthy() -> object:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()[0]}")
        try:
            r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=False, timeout=2)
        except httpx.HTTPError as exc:
            return Seen(repr(exc))
        return r.status_code == 200 or Seen(f"HTTP {r.status_code}")

    try:
        asyncio.run(until(healthy, "an https answer", within=60, step=0.2, tolerate=()))
        page = httpx.get(f"https://127.0.0.1:{port}/join.html", verify=False, timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        # the Docker health check: the same settings (port, TLS) find the same server
        health = subprocess.run(
            [sys.executable, "-m", "mirp", "health"], capture_output=True, text=True,
            timeout=60, env={**env, "MIRP_PORT": str(port), "MIRP_TLS_CERTFILE": str(cert),
                             "MIRP_TLS_KEYFILE": str(key)})
        assert health.returncode == 0, health.stderr
        assert f"healthy: https://127.0.0.1:{port}/healthz" in health.stdout
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"https://127.0.0.1:{port}/" in out


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    out = subprocess.run([sys.executable, "-m", "mirp", "serve", "--tls-certfile", str(cert)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MIRP_DATA_DIR": str(tmp_path / "d")})
    assert out.returncode != 0
    assert "go together" in out.stderr
