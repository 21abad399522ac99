"""What every route needs: the engine and the authenticated user of the request."""

from typing import Annotated

from fastapi import Depends, Request

from engine.rest.auth import Principal
from engine.runtime import Engine


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_principal(request: Request) -> Principal | None:
    """The caller when authentication is on; None when the engine runs without it."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


EngineDep = Annotated[Engine, Depends(get_engine)]
PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def key_text(key: int | None) -> str | None:
    """Camunda's REST API carries 64-bit keys as strings."""
    return None if key is None else str(key)
