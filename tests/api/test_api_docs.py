"""The API's documentation: `/docs` and `/redoc` and every file they load come from the service
(no CDN, no other origin), under a policy that lets exactly their own scripts run; the OpenAPI
document's security scheme is the one the API accepts."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest

from api.commands.imports import sample_file
from service.commanding.importing.columns import LICENCE
from tests.builders import AUTHORITY_CODE, enterprise

pytestmark = pytest.mark.api
LOADED = re.compile(r'(?:src|href|spec-url)="([^"]+)"|url: *\'([^\']+)\'')
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


def loaded_urls(html: str) -> list[str]:
    """What a page makes the browser load: scripts, styles, the icon, the OpenAPI document."""
    return [src or url for src, url in LOADED.findall(html)]


def policy(response: httpx.Response) -> dict[str, list[str]]:
    directives = response.headers["content-security-policy"].split(";")
    return {name: values for name, *values in (d.split() for d in directives if d.strip())}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_a_docs_page_loads_everything_from_the_service_and_nothing_else(anonymous, page):
    response = await anonymous.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert "http://" not in html and "https://" not in html  # no CDN, no web font
    urls = loaded_urls(html)
    assert "/openapi.json" in urls and "/docs/assets/favicon.png" in urls
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        assert url.startswith("/"), url
        asset = await anonymous.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), url
    rules = policy(response)
    assert "http" not in response.headers["content-security-policy"]  # no other origin
    assert rules["default-src"] == ["'none'"] and rules["connect-src"] == ["'self'"]
    # Of inline scripts, exactly the page's own run.
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(html)
    ]
    assert rules["script-src"] == ["'self'", *hashes]
    assert "'unsafe-inline'" not in rules["script-src"]
    assert "'unsafe-eval'" not in rules["script-src"]


async def test_swagger_ui_starts_with_the_document_and_without_the_online_validator(anonymous):
    html = (await anonymous.get("/docs")).text
    (script,) = INLINE_SCRIPT.findall(html)
    assert "url: '/openapi.json'" in script
    assert '"validatorUrl": null' in script and '"displayOperationId": true' in script
    assert "/docs/assets/swagger-ui-bundle.js" in html and "/docs/assets/swagger-ui.css" in html
    assert "/docs/assets/redoc.standalone.js" in (await anonymous.get("/redoc")).text


async def test_docs_assets_are_revalidated_rather_than_fetched_anew(anonymous):
    first = await anonymous.get("/docs/assets/swagger-ui-bundle.js")
    assert first.status_code == 200 and len(first.content) > 500_000
    assert first.headers["cache-control"] == "no-cache"
    again = await anonymous.get(
        "/docs/assets/swagger-ui-bundle.js", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert (await anonymous.get("/docs/assets/missing.js")).status_code == 404


async def test_other_pages_keep_the_strict_policy(anonymous):
    progress = await anonymous.get("/cases/progress")
    assert "https://" not in progress.headers["content-security-policy"]
    assert "form-action 'self'" in progress.headers["content-security-policy"]


# The Authorize scheme ---------------------------------------------------------------------------
def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each operation by its operationId: method, path and the operation object."""
    return {
        operation["operationId"]: (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


async def token(http: httpx.AsyncClient, url: str, client_id: str, secret: str, scopes) -> str:
    """A token as Swagger UI's Authorize asks for one: HTTP Basic, the scopes ticked."""
    answer = await http.post(
        url,
        data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    return answer.json()["access_token"]


async def test_a_token_from_the_declared_flow_carries_the_scopes_each_operation_declares(
    anonymous, services
):
    document = (await anonymous.get("/openapi.json")).json()
    ((name, scheme),) = document["components"]["securitySchemes"].items()
    assert scheme["type"] == "oauth2" and list(scheme["flows"]) == ["clientCredentials"]
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token" and set(flow["scopes"]) == {
        "credit:read",
        "credit:record",
        "credit:audit",
        "credit:admin",
        "credit:monitor",
    }
    by_id = operations(document)
    for operation_id, (_, _, operation) in by_id.items():
        for requirement in operation.get("security", []):
            assert list(requirement) == [name], operation_id
            assert set(requirement[name]) <= set(flow["scopes"]), operation_id
    client, secret = services.clients.create(
        "docs-recorder",
        "recorder",
        "郑州市交通运输局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )

    _, register_path, register = by_id["registerSubject"]
    recording = await token(
        anonymous, flow["tokenUrl"], client.client_id, secret, register["security"][0][name]
    )
    created = await anonymous.post(
        register_path, json=enterprise(901), headers={"Authorization": f"Bearer {recording}"}
    )
    assert created.status_code == 201, created.text
    subject_id = created.json()["subject_id"]

    _, status_path, status = by_id["getSubjectStatus"]
    status_url = status_path.format(subject_id=subject_id)
    refused = await anonymous.get(status_url, headers={"Authorization": f"Bearer {recording}"})
    assert refused.status_code == 403  # the recording token lacks the scope status declares
    assert refused.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{status["security"][0][name][0]}"'
    )
    reading = await token(
        anonymous, flow["tokenUrl"], client.client_id, secret, status["security"][0][name]
    )
    read = await anonymous.get(
        status_url,
        params={"min_position": created.json()["position"]},
        headers={"Authorization": f"Bearer {reading}"},
    )
    assert read.status_code == 200, read.text


async def test_exactly_the_operations_that_declare_the_scheme_refuse_a_request_without_a_token(
    anonymous,
):
    document = (await anonymous.get("/openapi.json")).json()
    for operation_id, (method, path, operation) in operations(document).items():
        url = re.sub(r"\{tree_size\}", "1", path)
        url = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", url)
        answer = await anonymous.request(method, url)
        declared = "security" in operation
        assert (answer.status_code == 401) == declared, (operation_id, answer.status_code)
        if declared:
            assert answer.headers["www-authenticate"] == "Bearer", operation_id


# What the document says of answers --------------------------------------------------------------
NAMED_HEADERS = ("ETag", "Location", "Retry-After")


async def test_every_etag_location_and_retry_after_an_answer_carries_is_documented(
    anonymous, role_headers
):
    document = (await anonymous.get("/openapi.json")).json()
    by_id = operations(document)
    recorder = role_headers["recorder"]
    company = enterprise(902)
    first = await anonymous.post("/v1/subjects", json=company, headers=recorder)
    subject = f"/v1/subjects/{first.json()['subject_id']}"
    again = await anonymous.post("/v1/subjects", json=company, headers=recorder)
    record = by_id["appendRecord"][2]["requestBody"]["content"]["application/json"]["examples"]
    penalty = record["PenaltyDecided"]["value"]
    appended = await anonymous.post(f"{subject}/events", json=penalty, headers=recorder)
    repeated = await anonymous.post(f"{subject}/events", json=penalty, headers=recorder)
    position = {"min_position": repeated.json()["position"]}
    status = await anonymous.get(f"{subject}/status", params=position, headers=recorder)
    unchanged = await anonymous.get(
        f"{subject}/status", headers={**recorder, "If-None-Match": status.headers["etag"]}
    )
    looked_up = await anonymous.post(
        "/v1/subjects:lookup", json={"code": company["code"]}, headers=recorder
    )
    answers = {
        "registerSubject": [first, again],
        "appendRecord": [appended, repeated],
        "getSubjectStatus": [status, unchanged],
        "lookUpSubjectByCode": [looked_up],
    }
    seen = set()
    for operation_id, responses in answers.items():
        documented = by_id[operation_id][2]["responses"]
        for response in responses:
            declared = documented[str(response.status_code)].get("headers", {})
            for name in NAMED_HEADERS:
                if name in response.headers:
                    seen.add((operation_id, response.status_code, name))
                    assert name in declared, (operation_id, response.status_code, name)
    assert seen == {
        ("registerSubject", 201, "Location"),
        ("registerSubject", 200, "Location"),
        ("appendRecord", 201, "ETag"),
        ("appendRecord", 200, "ETag"),
        ("getSubjectStatus", 200, "ETag"),
        ("getSubjectStatus", 304, "ETag"),
        ("lookUpSubjectByCode", 200, "ETag"),
    }


async def test_the_documented_import_file_imports(anonymous, role_headers):
    """The sample file in importFile's documentation is built from the column table: sent as it
    is, its row is recorded, for either layout."""
    document = (await anonymous.get("/openapi.json")).json()
    content = document["paths"]["/v1/imports"]["post"]["requestBody"]["content"]
    penalty_file = content["multipart/form-data"]["example"]["file"]
    description = document["paths"]["/v1/imports"]["post"]["description"]
    for column in penalty_file.splitlines()[0].split(","):
        assert f"| `{column}`" in description, column  # every column sent is in the table
    for sample in (penalty_file, sample_file(LICENCE)):
        answer = await anonymous.post(
            "/v1/imports",
            files={"file": ("sample.csv", sample.encode(), "text/csv")},
            headers=role_headers["recorder"],
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1, answer.json()
