"""Property-based fuzzing from the app's own OpenAPI schema (schemathesis): no input gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app


@pytest.fixture
def fuzz_client(web_index: Index, web_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings, index=web_index), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api_schema(fuzz_client: TestClient) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_client.app)
    # The app's lifespan ran in `fuzz_client`; cases go through that same running app.
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_server_error(case: schemathesis.Case, fuzz_client: TestClient) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
