"""The delegates CSV parser: separators spreadsheets write, headers, and errors naming the line."""

import pytest

from mirp.errors import InvalidInput
from mirp.store.invites import parse_delegates_csv


def test_comma_semicolon_and_tab() -> None:
    for sep in (",", ";", "\t"):
        rows = parse_delegates_csv(f"Amina Diallo{sep}Senegal{sep}amina@example.org\n"
                                   f"Li Wei{sep}China\n")
        assert [(r.line, r.name, r.delegation, r.email) for r in rows] == [
            (1, "Amina Diallo", "Senegal", "amina@example.org"), (2, "Li Wei", "China", None)]


def test_header_in_any_order_with_a_bom() -> None:
    rows = parse_delegates_csv("\ufeffE-mail;Name;Delegation\nx@example.org;X;Peru\n")
    assert [(r.line, r.name, r.delegation, r.email) for r in rows] == [
        (2, "X", "Peru", "x@example.org")]


def test_quoted_fields_and_line_numbers() -> None:
    text = 'name,delegation\n"Smith, John","United\nKingdom"\n\n,France\n'
    with pytest.raises(InvalidInput) as err:
        parse_delegates_csv(text)
    assert err.value.details["line"] == 5 and "name is missing" in err.value.message


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a,b,c,d\n", 1, "columns"),
    ("name,region\nA,B\n", 1, "unknown column"),
    ("name,country\nA,XX\n", 2, "ISO 3166-1"),
    ("A,B,not-mail\n", 1, "e-mail"),
    ("\n\n", None, "no delegate"),
])
def test_errors_name_the_line(text: str, line: int | None, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_delegates_csv(text)
    assert err.value.details.get("line") == line and words in err.value.message
