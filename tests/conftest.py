"""Suite-wide hooks: markers applied and checked (tests/support/marks.py). Each area keeps its
own fixtures in tests/<area>/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import marks


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast", action="store_true",
                     help="the fast lane: deselect every test marked " + ", ".join(marks.HEAVY))


def pytest_configure(config: pytest.Config) -> None:
    for name, meaning in marks.HEAVY.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    marks.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marks.apply(items)
    if config.getoption("--fast"):
        heavy = [item for item in items if marks.is_heavy(item)]
        if heavy:
            config.hook.pytest_deselected(items=heavy)
            items[:] = [item for item in items if not marks.is_heavy(item)]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    marks.watch(item)
    try:
        return (yield)
    finally:
        marks.watch(None)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marks.watch(item)
    try:
        result = yield
    finally:
        marks.watch(None)
    refused = marks.violations(item)
    if refused:
        pytest.fail("\n".join(dict.fromkeys(refused)), pytrace=False)
    return result
