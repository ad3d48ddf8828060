"""Paged listings (docs/api.md, "Pages"): one page size rule and one way to say where the next
page is, for every list the API offers (meetings, invitations, registrations)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request, Response

PAGE_DEFAULT = 100
PAGE_MAX = 1000

Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description="items per page")]
After = Annotated[str | None, Query(max_length=64, description="the last id of the page before")]


def link_next(request: Request, response: Response, **query: int | str) -> None:
    """`Link: <path?query>; rel="next"` (and, for a cursor, `X-Next-After`) on `response`."""
    response.headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    if "after" in query:
        response.headers["X-Next-After"] = str(query["after"])


def cursor_page(request: Request, body: bytes, limit: int, next_after: str | None) -> Response:
    """A page of JSON already rendered (by a worker): the next page's link when there is one."""
    response = Response(body, media_type="application/json")
    if next_after is not None:
        link_next(request, response, limit=limit, after=next_after)
    return response
