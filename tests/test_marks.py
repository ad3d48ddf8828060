"""The markers are checked, not trusted (tests/support/marks.py): a test that starts a process,
a server or a WebRTC socket without saying so fails in every lane, and `--fast` leaves out every
test that says so."""

from __future__ import annotations

import socket
import sys

import pytest

from tests.support import marks

pytest_plugins = ["pytester"]

HOOKS = """
from tests.conftest import (pytest_addoption, pytest_collection_modifyitems, pytest_configure,
                            pytest_runtest_call, pytest_runtest_setup)
"""
INI = "[pytest]\naddopts = --strict-markers\nasyncio_default_fixture_loop_scope = function\n"


def inner(pytester: pytest.Pytester, test_file: str) -> None:
    """A pytest run in this process with the suite's hooks and strictness."""
    pytester.makeconftest(HOOKS)
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=test_file)


def popen(*argv: str) -> tuple[object, ...]:
    return (argv[0], list(argv), None, None)


@pytest.mark.parametrize(("argv", "needed"), [
    (("runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/initdb", "-D", "x"),
     "postgres"),
    (("/usr/lib/postgresql/15/bin/createdb", "-h", "127.0.0.1", "db"), "postgres"),
    (("/usr/bin/redis-server", "--port", "1"), "redis"),
    ((sys.executable, "-m", "mirp", "serve"), "process"),
    (("/usr/bin/chromium", "--headless"), "process"),
    ((sys.executable, "-m", "mirp.media.worker", "7"), None),  # the app's own child
    ((sys.executable, "-c", "from multiprocessing.spawn import spawn_main"), None),
])
def test_a_spawned_program_calls_for_its_marker(argv: tuple[str, ...], needed: str | None) -> None:
    assert marks.requirement("subprocess.Popen", popen(*argv)) == needed


def test_a_udp_socket_calls_for_rtc_and_a_tcp_one_for_nothing() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        assert marks.requirement("socket.bind", (udp, ("127.0.0.1", 0))) == "rtc"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        assert marks.requirement("socket.bind", (tcp, ("127.0.0.1", 0))) is None
    assert marks.requirement("open", ("x", "r", 0)) is None


def test_an_unmarked_test_that_binds_udp_fails_naming_the_marker(
        pytester: pytest.Pytester) -> None:
    inner(pytester, """
        import socket
        import pytest

        def bind():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))

        def test_unmarked():
            bind()

        @pytest.mark.rtc
        def test_marked():
            bind()

        @pytest.mark.integration
        def test_wider_marker():
            bind()
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked*add @pytest.mark.rtc*"])


def test_fast_deselects_every_marked_test_and_keeps_the_rest(pytester: pytest.Pytester) -> None:
    inner(pytester, """
        import pytest

        def test_unit():
            pass

        @pytest.mark.slow
        def test_slow():
            pass

        @pytest.mark.rtc
        def test_rtc():
            pass
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--fast", "-v")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*test_unit PASSED*"])


def test_an_unknown_marker_is_an_error(pytester: pytest.Pytester,
                                       pytestconfig: pytest.Config) -> None:
    assert "--strict-markers" in pytestconfig.getini("addopts")
    inner(pytester, """
        import pytest

        @pytest.mark.postgress
        def test_typo():
            pass
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'postgress' not found in `markers`*"])
