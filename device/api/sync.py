"""Staff endpoints: sync."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/staff", tags=["sync"])
