"""PLACEHOLDER, replaced by signaling (issue 3)."""

from __future__ import annotations

from fastapi import APIRouter


def build_router() -> APIRouter:
    return APIRouter()
