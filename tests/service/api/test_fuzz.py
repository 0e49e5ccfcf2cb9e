"""An OpenAPI fuzz run with schemathesis against the running service: a few hundred
generated requests, no server error, and every response fits the service's own schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import RunningServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(operation: schemathesis.APIOperation, cases: list[str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: schemathesis.Case) -> None:
        cases.append(operation.label)
        case.call_and_validate(checks=CHECKS)

    run()


def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_violation(
    server: RunningServer,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    cases: list[str] = []
    for result in schema.get_all_operations():
        fuzz(result.ok(), cases)
    print(f"\nschemathesis: {len(cases)} cases over {len(set(cases))} operations")
    assert len(set(cases)) >= 20  # every documented operation was exercised
    assert len(cases) >= 200
