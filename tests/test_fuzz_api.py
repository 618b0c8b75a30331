"""Requests generated from the API's own schema (/schema/openapi.json, by schemathesis), fitting
it and not, signed in as several roles, on SQLite and PostgreSQL: whatever a client sends, the
answer is never a 5xx (issue 16).

In-process, through the suite's TestClient: schemathesis builds each request and this test sends
it, so the signed-in session and the CSRF header are the suite's own. The budget is fixed
(derandomized, a few examples per operation) to stay within about a minute per database; a
failure lists every request that got a 5xx, as a curl command to replay it."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from schemathesis import GenerationMode

from tests.conftest import csrf_token, sign_in

BASE = "http://testserver.local"
# An administrator, the field (an inspector), the street (a dispatcher) and an enterprise's
# officer: every scope the API narrows by.
ROLES = ("admin", "inspector", "dispatcher", "enterprise")
EXAMPLES = 50  # per operation and role, fitting the schema or not
# The header schemathesis adds to trace a case; harmless, but the test's own are what matter.
DROPPED_HEADERS = {"cookie", "x-schemathesis-testcaseid"}


def _send(client: TestClient[Any], kwargs: dict[str, Any], token: str) -> Any:
    """A request as schemathesis describes it (requests' keywords), sent through httpx."""
    headers = {
        k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in DROPPED_HEADERS
    }
    headers["x-csrftoken"] = token
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        body["content"] = data
    elif data is not None:
        body["data"] = data
    if kwargs.get("files"):
        body["files"] = kwargs["files"]
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params") or None,
        headers=headers,
        follow_redirects=False,
        **body,
    )


def _fuzz(client: TestClient[Any], operation: Any, role: str, failures: list[str]) -> int:
    """Send one operation's generated requests; note each 5xx. Returns how many were sent."""
    token = csrf_token(client)
    sent = 0
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # a fixed seed: the same requests on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def check(case: Any) -> None:
        nonlocal sent
        response = _send(client, case.as_transport_kwargs(base_url=BASE), token)
        sent += 1
        if response.status_code >= 500:
            failures.append(
                f"{role}: {response.status_code} {case.as_curl_command()}\n  {response.text[:300]}"
            )

    check()
    return sent


def test_generated_requests_never_get_a_server_error(client: TestClient[Any]) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/schema/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # the API is in the schema, not an empty document
    failures: list[str] = []
    sent = 0
    for role in ROLES:
        sign_in(client, role)
        for operation in operations:
            sent += _fuzz(client, operation, role, failures)
    assert sent >= len(operations) * len(ROLES)  # the generator really ran
    assert not failures, f"{len(failures)} of {sent} requests got a 5xx:\n" + "\n".join(failures)
