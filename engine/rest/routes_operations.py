"""Routes of this part of the REST API (being written)."""

from fastapi import APIRouter

router = APIRouter()
