"""The OpenAPI document describes every operation fully, so that a developer can integrate from
`/docs` alone and a generated client gets readable names: a stable operationId, a tag that says
what it groups, a summary and a description; every parameter and every schema property
described; an example of each request body and each answer. A new endpoint that leaves one out
fails here, naming it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI

from api.app import create_app
from service.commanding.commands import RECORD_COMMANDS, RegisterSubject
from service.settings import Settings

pytestmark = pytest.mark.api
OPERATION_ID = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)+")  # lowerCamelCase, verb first
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app as served; its document is built without a database."""
    return create_app(Settings(environment="test", subject_id_key="document-only"))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_operation_has_its_own_readable_id_a_summary_and_a_description(document):
    ids = []
    for name, operation in operations(document):
        # Named by hand: FastAPI's own ids (`subject_status_v1_subjects__subject_id__status_get`)
        # change with the path and the function, and its summaries are the function's name.
        assert OPERATION_ID.fullmatch(operation["operationId"]), name
        ids.append(operation["operationId"])
        summary = operation.get("summary", "")
        assert summary.strip() and not summary.istitle(), f"{name}: summary {summary!r}"
        assert operation.get("description", "").strip(), f"{name}: no description"
    assert len(ids) == len(set(ids)), sorted(ids)


def test_every_tag_is_described_and_every_operation_has_one(document):
    described = {tag["name"]: tag.get("description", "") for tag in document["tags"]}
    assert all(description.strip() for description in described.values()), described
    used = set()
    for name, operation in operations(document):
        assert len(operation.get("tags", [])) == 1, name
        assert operation["tags"][0] in described, f"{name}: tag {operation['tags']} undescribed"
        used.add(operation["tags"][0])
    assert used == set(described), set(described) - used


def undescribed(document: dict[str, Any], schema: dict[str, Any], where: str) -> Iterator[str]:
    """Every property under `schema` (nested objects, items, unions) without a description."""
    for name, prop in schema.get("properties", {}).items():
        if not prop.get("description", "").strip():
            yield f"{where}.{name}"
        yield from undescribed(document, prop, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict) and "$ref" not in schema[key]:
            yield from undescribed(document, schema[key], f"{where}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            if "$ref" not in member:
                yield from undescribed(document, member, where)


def test_every_parameter_and_every_schema_property_is_described(document):
    missing = []
    for name, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if not parameter.get("description", "").strip():
                missing.append(f"{name}: parameter {parameter['name']}")
    for schema_name, schema in document["components"]["schemas"].items():
        missing.extend(undescribed(document, schema, schema_name))
    assert not missing, "\n".join(missing)


def has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    """An example in the media type, or in its schema (a list's items; every union member)."""
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = resolve(document, media.get("schema", {}))
    if schema.get("examples"):
        return True
    if schema.get("type") == "array":
        return has_example(document, {"schema": schema.get("items", {})})
    members: list[Any] = schema.get("oneOf") or schema.get("anyOf") or []
    return bool(members) and all(has_example(document, {"schema": m}) for m in members)


def test_every_request_body_and_every_answer_with_a_body_has_an_example(document):
    missing = []
    for name, operation in operations(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if not has_example(document, media):
                missing.append(f"{name}: request {media_type}")
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                if not has_example(document, media):
                    missing.append(f"{name}: {status} {media_type}")
    assert not missing, "\n".join(missing)


def test_no_answer_is_documented_as_fastapis_own_validation_error(document):
    """Every 422 is problem+json (api/errors.py), which the document must say, not FastAPI's
    default `HTTPValidationError` body that this service never sends."""
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for name, operation in operations(document):
        if "422" in operation["responses"]:
            assert PROBLEM in operation["responses"]["422"]["content"], name


def test_every_example_fits_the_schema_it_illustrates(document):
    """Examples as written, nulls included (FastAPI would drop them), valid against their
    schema: a developer may copy one and send it, or code against it."""
    wrong: list[str] = []

    def check(where: str, schema: dict[str, Any], value: Any) -> None:
        validator = jsonschema_rs.Draft202012Validator(
            {"components": document["components"], **schema}
        )
        wrong.extend(f"{where}: {error}" for error in validator.iter_errors(value))

    for name, schema in document["components"]["schemas"].items():
        for value in schema.get("examples", []):
            check(name, {"$ref": f"#/components/schemas/{name}"}, value)
    for name, operation in operations(document):
        bodies = [("request", operation.get("requestBody", {})), *operation["responses"].items()]
        for label, body in bodies:
            for media_type, media in body.get("content", {}).items():
                values = [e["value"] for e in media.get("examples", {}).values()]
                if "example" in media:
                    values.append(media["example"])
                for value in values:
                    check(f"{name} {label} {media_type}", media.get("schema", {}), value)
    assert not wrong, "\n".join(wrong)


def test_each_record_example_is_a_command_the_service_accepts(document):
    """Beyond the schema: codes with their check characters, the fields of its record type."""
    body = document["paths"]["/v1/subjects/{subject_id}/events"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    assert set(examples) == set(RECORD_COMMANDS)
    for record_type, documented in examples.items():
        command = RECORD_COMMANDS.validate_python(documented["value"])
        assert type(command) is RECORD_COMMANDS[record_type]
    RegisterSubject.model_validate(
        document["components"]["schemas"]["RegisterSubject"]["examples"][0]
    )
