"""The OpenAPI document describes the real app: every /api/v1 route and method is in it,
every documented operation is a route, and it is a valid OpenAPI 3.1 document."""

from __future__ import annotations

import re

import pytest
import schemathesis

from ibtrader.web.api.openapi_doc import document
from ibtrader.web.app import create_app
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path
from tests.web.harness import web_settings

IGNORED = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = web_settings(tmp_path_factory.mktemp("openapi"))
    store = CredentialStore(store_path(settings.data_dir))
    yield create_app(WebContext(settings, store)), store
    store.close()


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, m) for m in rule.methods - IGNORED}
    return found


def documented() -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document()["paths"].items()
            for method in item if method != "parameters"}


def test_every_route_is_documented_and_every_documented_operation_exists(app):
    flask_app, _ = app
    assert routes(flask_app) - documented() == set(), "routes missing from the document"
    assert documented() - routes(flask_app) == set(), "documented but not served"


def test_the_document_is_valid_openapi_and_is_served_to_a_key_holder(app):
    flask_app, store = app
    schemathesis.openapi.from_dict(document()).validate()  # against the 3.1 meta-schema
    broken = {**document(), "paths": {"/api/v1/x": {"get": {"responses": "none"}}}}
    with pytest.raises(Exception, match="responses"):  # the check can fail
        schemathesis.openapi.from_dict(broken).validate()
    client = flask_app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 401
    key = store.create_key("openapi").key
    served = client.get("/api/v1/openapi.json", headers={"X-API-Key": key})
    assert served.status_code == 200 and served.get_json() == document()


def test_every_operation_documents_its_success_and_error_shapes():
    doc = document()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["scheme"] == "bearer" and schemes["Session"]["in"] == "cookie"
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert codes & {"200", "201", "202"}, (path, method)
            public = operation.get("security") == []
            assert public or {"401", "403"} <= codes, (path, method)
            for code, answer in operation["responses"].items():
                if code >= "400":
                    assert answer["content"]["application/json"]["schema"] == \
                        {"$ref": "#/components/schemas/Error"}
            if "requestBody" in operation:
                assert "400" in codes, (path, method)
    order = doc["components"]["schemas"]["OrderBody"]
    assert order["required"] == ["symbol", "side", "quantity"]
    assert order["properties"]["quantity"]["type"] == "number"
