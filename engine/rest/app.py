"""The REST application: routers, problem-detail errors and optional Basic authentication."""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import __version__
from engine.processor import Rejection
from engine.rest import routes_instances, routes_operations, routes_tasks
from engine.rest.auth import BasicAuthenticator
from engine.rest.deps import EngineDep
from engine.rest.problems import (
    ApiProblem,
    on_api_problem,
    on_http_error,
    on_rejection,
    on_validation_error,
    problem_response,
)
from engine.runtime import Engine


def create_app(engine: Engine, authenticator: BasicAuthenticator | None = None) -> FastAPI:
    app = FastAPI(
        title="Embedded engine — Camunda Orchestration Cluster API subset",
        version=__version__,
        docs_url="/docs",
        openapi_url="/v2/openapi.json",
    )
    app.state.engine = engine
    app.state.authenticator = authenticator
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(Rejection, on_rejection)
    app.add_exception_handler(StarletteHTTPException, on_http_error)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if authenticator is not None and request.url.path.startswith("/v2"):
            principal = authenticator.authenticate(request.headers.get("authorization"))
            if principal is None:
                return problem_response(request, 401, "UNAUTHORIZED", "Valid Basic credentials are required")
            request.state.principal = principal
        return await call_next(request)

    @app.get("/v2/topology")
    async def topology(engine: EngineDep) -> dict[str, object]:
        """Cluster topology: one broker leading one healthy partition."""
        del engine
        return {
            "brokers": [
                {
                    "nodeId": 0,
                    "brokerId": "0",
                    "host": "127.0.0.1",
                    "port": 26501,
                    "partitions": [
                        {"partitionId": 1, "role": "leader", "health": "healthy", "state": "active"}
                    ],
                    "version": __version__,
                }
            ],
            "clusterId": None,
            "clusterSize": 1,
            "partitionsCount": 1,
            "replicationFactor": 1,
            "gatewayVersion": __version__,
            "lastCompletedChangeId": "-1",
        }

    app.include_router(routes_tasks.router, prefix="/v2")
    app.include_router(routes_instances.router, prefix="/v2")
    app.include_router(routes_operations.router, prefix="/v2")
    return app
