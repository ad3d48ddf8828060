"""Browser tests: a real server process and Debian's headless Chromium as real WebRTC peers.

Each simulated participant runs in its own Chromium, whose fake microphone plays a tone WAV of its
own frequency; the page reports what it hears through `window.mirpTest` (an FFT in the page).
Chromium's switches and why each is there: `chromium_args` below; the scenarios: docs/client.md
("Tests (tests/browser/)").
"""

from __future__ import annotations

import asyncio
import os
import re
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support import wait
from tests.support.server import Server, serving

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# `window.mirpTest`, injected into every page before its own scripts: the pages users load have
# no test hook (see the script's header)
TEST_HOOK = Path(__file__).with_name("mirp_test.js")

# Playwright passes its own --disable-features list first and Chromium keeps only the last one:
# repeat Playwright's list (1.65) here, plus WebRtcHideLocalIpsWithMdns (no .local candidates).
_DISABLED_FEATURES = ",".join([
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled",
    "PreconnectToSearch", "WebRtcHideLocalIpsWithMdns",
])

def chromium_args(wav: Path | None) -> list[str]:
    args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--allow-loopback-in-peer-connection",
        f"--disable-features={_DISABLED_FEATURES}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
    ]
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}")
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


def write_tone(path: Path, freq: float, seconds: float = 4.0, dbfs: float = -12.0) -> Path:
    """A looped sine at `freq`: 16-bit PCM, 48 kHz, mono (24-bit would play as silence).
    A whole number of cycles per file keeps the loop seamless."""
    rate = 48000
    n = int(rate * seconds)
    cycles = round(freq * seconds)
    t = np.arange(n) / rate
    x = (10 ** (dbfs / 20)) * np.sin(2 * np.pi * (cycles / seconds) * t)
    pcm = (x * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_silence(path: Path, seconds: float = 2.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * int(48000 * seconds))
    return path


async def until(check: Callable[[], Awaitable[Any]], what: str, deadline_s: float = 20.0) -> Any:
    """tests.support.wait.until with a browser's defaults: a page in the middle of a navigation
    raises (any exception means "not yet"), and Chromium is asked four times a second."""
    return await wait.until(check, what, deadline_s, step=0.25, tolerate=(Exception,))


# ---------------------------------------------------------------------------- the server
@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("mirp-data")) as srv:
        yield srv


# ---------------------------------------------------------------------------- the REST API
class Api:
    """The organizer's side of the REST API (docs/api.md), for test setup."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)

    def _ok(self, r: httpx.Response) -> Any:
        req = r.request
        assert r.status_code < 400, f"{req.method} {req.url} -> {r.status_code} {r.text}"
        return r.json() if r.content else None

    def organizer(self, email: str = "org@example.org", password: str = "correct horse 1") -> str:
        r = self.http.post("/api/auth/signup",
                           json={"email": email, "name": "Olga Organizer", "password": password})
        if r.status_code >= 400 and r.status_code != 409:
            self._ok(r)
        token = self._ok(self.http.post("/api/auth/login",
                                         json={"email": email, "password": password}))["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        return str(token)

    def meeting(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": "Plenary", "languages": ["en", "fr", "es"], "status": "open",
            "booths": [{"language": "fr", "retour": "en", "understands": ["en", "es"]},
                       {"language": "es", "understands": ["en", "fr"]}]}
        body.update(fields)
        return dict(self._ok(self.http.post("/api/meetings", json=body)))

    def invite(self, meeting_id: str, role: str, name: str | None = None, **fields: Any) -> str:
        body = {"role": role, "name": name, **fields}
        inv = self._ok(self.http.post(f"/api/meetings/{meeting_id}/invitations", json=body))
        return str(inv["join_url"])


async def sign_in(page: Any, base: str, token: str, organizer: Any = None) -> None:
    """The organizer's session put into the page's storage, from a page that never navigates by
    itself. Not the login page: its script, run once the catalogues' top-level await is done
    (which can be after `goto` returns, on a busy machine), sends a signed-in visitor on to the
    meetings, a navigation that aborts the test's next `goto` (net::ERR_ABORTED)."""
    await page.goto(f"{base}/help.html")
    await page.wait_for_selector("main h1")
    session = {"token": token} if organizer is None else {"token": token, "organizer": organizer}
    await page.evaluate("s => localStorage.setItem('mirp.organizer', JSON.stringify(s))", session)


@pytest.fixture
def api(server: Server) -> Iterator[Api]:
    a = Api(server.base)
    yield a
    a.http.close()


# ---------------------------------------------------------------------------- browsers
class Participant:
    """One person in their own Chromium (own fake microphone)."""

    def __init__(self, browser: Any, page: Any) -> None:
        self.browser = browser
        self.page = page

    async def state(self) -> dict[str, Any]:
        js = "() => window.mirpTest ? window.mirpTest.state() : {}"
        return dict(await self.page.evaluate(js))

    async def hear(self, ms: int = 1200) -> dict[str, Any]:
        return dict(await self.page.evaluate("ms => window.mirpTest.hear(ms)", ms))

    async def hears(self, freq: float, *, tol: float = 15.0, min_db: float = -70.0) -> dict | None:
        h = await self.hear()
        return h if abs(h["frequency"] - freq) <= tol and h["level_db"] > min_db else None


@pytest.fixture
async def launch(chromium_path: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browsers: list[Any] = []
    page_errors: list[str] = []

    async def _launch(wav: Path | None = None, viewport: tuple[int, int] = (1366, 900),
                      locale: str | None = None, camera: Path | None = None) -> Any:
        # locale: the browser's language (navigator.languages), which the pages' default follows
        # camera: a .y4m file the fake camera plays (else Chromium's own moving pattern)
        args = chromium_args(wav)
        if camera is not None:
            args.append(f"--use-file-for-fake-video-capture={camera}")
        browser = await pw.chromium.launch(executable_path=chromium_path, args=args)
        browsers.append(browser)
        ctx = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                        locale=locale)
        await ctx.add_init_script(path=TEST_HOOK)
        page = await ctx.new_page()
        page.on("pageerror", lambda e, p=page: page_errors.append(f"{p.url}: {e}"))
        page.on("console",
                lambda m: m.type in ("error", "warning") and print(f"[console] {m.text}"))
        # what the Content-Security-Policy refused (an inline style, a script) is a page bug
        page.on("console", lambda m, p=page: "Content Security Policy" in m.text
                and page_errors.append(f"{p.url}: {m.text}"))
        return page

    yield _launch
    for b in browsers:
        await b.close()
    await pw.stop()
    # an uncaught error in a page is a bug even when the scenario got through
    assert not page_errors, "errors in the pages:\n" + "\n".join(dict.fromkeys(page_errors))


@pytest.fixture
def tones(tmp_path: Path) -> Callable[[float], Path]:
    def make(freq: float) -> Path:
        return write_tone(tmp_path / f"tone-{int(freq)}.wav", freq)
    return make


@pytest.fixture
def silence(tmp_path: Path) -> Path:
    return write_silence(tmp_path / "silence.wav")


LIVE_PAGE = re.compile(r"/(delegate|chair|console|room)\.html")


async def join(page: Any, url: str, name: str | None = None) -> Participant:
    """Open an invitation link, pass the pre-join page, and wait for the live page's audio."""
    await page.goto(url)
    await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
    if name and await page.is_visible("#join-name"):
        await page.fill("#join-name", name)
    await page.click("#join-btn")
    await page.wait_for_url(LIVE_PAGE, timeout=15000)
    p = Participant(page.context.browser, page)

    async def connected() -> bool:
        s = await p.state()
        return s.get("connection") == "connected" and s.get("session") == "open"
    await until(connected, f"{url} to connect its audio")
    return p


async def join_all(launch: Callable[..., Awaitable[Any]],
                   *people: tuple[Path | None, str]) -> list[Participant]:
    """Each (microphone WAV, invitation link) in its own browser, joined concurrently."""
    async def one(wav: Path | None, url: str) -> Participant:
        return await join(await launch(wav), url)
    return list(await asyncio.gather(*(one(wav, url) for wav, url in people)))


async def assert_no_refusals(*people: Participant) -> None:
    """Every action the pages sent was accepted: a refused one (`error` from the server) means
    the client and the server disagree on the protocol or on what a role may do."""
    refused = {}
    for p in people:
        s = await p.state()
        if s.get("errors"):
            refused[f"{s.get('role')} {s.get('me')}"] = s["errors"]
    assert not refused, f"the server refused: {refused}"


def save_screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
