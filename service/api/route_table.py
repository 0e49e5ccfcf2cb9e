"""The routes that serve predictions, declared once, where the gateway reads them.

A handler that runs a model is declared with `PredictionRouter.prediction`: that adds it to
FastAPI as any route, and records it. The gateway matches requests against those records
only (`RouteTable`), and from them alone it decides:

- that the route needs an API key, when keys are configured: a new prediction route is
  protected by being declared, never by a list kept elsewhere;
- whether to call the handler directly (`fast`), without FastAPI's routing and dependency
  machinery, which cost about half of a small request (BENCHMARKS.md). FastAPI still serves
  the same route when called through it, with the same handler.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.responses import Response

Endpoint = Callable[..., Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)


@dataclass(frozen=True)
class PredictionRoute:
    path: str  # as declared: /v2/models/{name}/infer
    methods: frozenset[str]
    endpoint: Endpoint  # called with the request and the path parameters
    fast: bool  # the gateway calls it directly
    regex: re.Pattern[str]  # FastAPI's own, with a group per path parameter


class PredictionRouter(APIRouter):
    """An APIRouter that keeps a record of its prediction routes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.predictions: list[PredictionRoute] = []

    def prediction(self, path: str, *, fast: bool, **options: Any) -> Callable[[E], E]:
        """Declare a POST route that runs a model (FastAPI's route options as for `post`)."""

        def declare(endpoint: E) -> E:
            self.add_api_route(path, endpoint, methods=["POST"], **options)
            route = self.routes[-1]
            assert isinstance(route, APIRoute) and route.endpoint is endpoint
            self.predictions.append(
                PredictionRoute(
                    route.path, frozenset(route.methods or ()), endpoint, fast, route.path_regex
                )
            )
            return endpoint

        return declare


class RouteTable:
    """Every declared prediction route, matched by path alone (any method), so that a route's
    key check never depends on how it is called."""

    def __init__(self, routes: Iterable[PredictionRoute]) -> None:
        self.routes = tuple(routes)

    def match(self, path: str) -> tuple[PredictionRoute, dict[str, str]] | None:
        for route in self.routes:
            found = route.regex.match(path)
            if found is not None:
                return route, found.groupdict()
        return None

    @property
    def fast_paths(self) -> list[str]:
        return [route.path for route in self.routes if route.fast]
