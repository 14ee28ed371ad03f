"""Schemathesis against the real app over a running engine (simulator): generated calls to
every documented operation, with an API key, never get a 5xx and every answer matches the
document (status code, content type, body schema). The event stream is left out: it never
ends by itself (tests/web/test_stream.py covers it). Orders go to the simulator."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ibtrader.backtest.jobs import BacktestJobs
from ibtrader.web.api.openapi_doc import document
from tests.web.apiclient import running_api

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 12  # per operation: ~40 operations, the file in well under a minute


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("schemathesis"),
                     strategies=("sma_cross",)) as running:
        running.context.jobs = BacktestJobs(running.context.settings)
        try:
            yield running
        finally:
            running.context.jobs.close()


@pytest.fixture(scope="module")
def api_schema(api):
    # the document as the app serves it, to a key holder
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app,
                                          headers=api.headers)


OPERATIONS = sorted((method.upper(), path) for path, item in document()["paths"].items()
                    for method in item if method != "parameters" and path != "/api/v1/events")


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_calls_get_no_server_error_and_match_the_document(api, api_schema, method,
                                                                   path):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def calls(case):
        case.call_and_validate(headers=api.headers, checks=CHECKS)

    calls()
