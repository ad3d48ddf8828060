"""The REST API: `/api/...` (OpenAPI at /openapi.json), `/healthz`, `/readyz`, `/metrics`.
docs/api.md, docs/operations.md."""

from __future__ import annotations

from fastapi import APIRouter


def build_router() -> APIRouter:
    from mirp.api import (
        auth,
        captions,
        health,
        invitations,
        join,
        live,
        meetings,
        metrics,
        recordings,
        registrations,
        reports,
        trends,
        webcast,
        whep,
        whip,
    )

    api = APIRouter(prefix="/api")
    for module in (auth, meetings, invitations, registrations, join, live, reports,
                   trends, recordings, captions):
        api.include_router(module.router)
    api.include_router(webcast.organizer)
    root = APIRouter()
    root.include_router(health.router)
    root.include_router(metrics.router)
    root.include_router(webcast.router)  # /webcast/<meeting>/...: HLS files
    root.include_router(whip.router)  # WHIP ingest, WHEP egress (docs/venue.md)
    root.include_router(whep.router)
    root.include_router(api)
    return root
