"""The webcast's page tests drive Debian's chromium as tests/browser does: its one fixture."""

from tests.browser.conftest import chromium_path  # noqa: F401 (re-exported as a fixture)
