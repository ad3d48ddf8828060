"""REST API (PLACEHOLDER router, replaced by issue 2)."""

from __future__ import annotations

from fastapi import APIRouter


def build_router() -> APIRouter:
    return APIRouter()
