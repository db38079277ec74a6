"""schemathesis against the three services' served OpenAPI documents (`/openapi.json`) on a
real local stack, with valid tokens: any 5xx, or an answer the document does not describe
(status, content type, headers, body schema), fails, and so does accepting data the document
rules out (negative cases must be 4xx). Bounded: a few examples per operation and mode.

Tokens: payments and reviews take the stack's service token; the storefront's admin routes the
admin token; the other storefront routes a shopper token whose subject is the generated
`cart_id` (so cart writes and checkouts really run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reference_app.tokens import issue_token  # noqa: E402
from tests.conftest import RunningStack, start_stack  # noqa: E402

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(Path(tmp_path_factory.mktemp("fuzz")))
    try:
        yield stack
    finally:
        stack.stop()


def _schema(stack: RunningStack, service: str) -> Any:
    return schemathesis.openapi.from_url(f"{stack.urls[service]}/openapi.json")


def _token(stack: RunningStack, case: Any, service: str) -> str:
    state = stack.state
    if service != "storefront":
        return str(state["tokens"]["service"])
    if case.path.startswith("/v1/admin/"):
        return str(state["tokens"]["admin"])
    subject = str((case.path_parameters or {}).get("cart_id") or "shp-schemathesis")
    return issue_token(subject[:200] or "shp-x", "shopper", secret=state["token_secret"])


FUZZ = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck), database=None)


def _runner(stack: RunningStack, service: str, cases: Any, checks: list[Any]) -> Any:
    """A Hypothesis test calling the service with each generated case and running `checks`."""

    @FUZZ
    @given(case=cases)
    def run(case: Any) -> None:
        headers = {"Authorization": f"Bearer {_token(stack, case, service)}"}
        case.call_and_validate(base_url=stack.urls[service], headers=headers, checks=checks,
                               timeout=30)

    return run


@pytest.mark.parametrize("service", ["storefront", "payments", "reviews"])
def test_served_openapi_holds(fuzz_stack: RunningStack, service: str) -> None:
    """Every operation of the service's served document, a few generated cases each (the
    schemathesis pytest loader cannot be used: it relies on a pytest attribute gone in 9.x)."""
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.urls[service]}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS),
                             (GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection])):

            try:
                _runner(fuzz_stack, service, operation.as_strategy(mode), checks)()
            except Unsatisfiable:  # nothing to negate (no parameters, no body)
                continue
            except Exception as exc:  # collect every operation's failure, then fail once
                failures.append(f"{operation.method.upper()} {operation.path} "
                                f"({mode.value}): {exc}")
    assert operations >= 5
    assert not failures, "\n\n".join(failures)
