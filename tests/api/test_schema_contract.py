"""The OpenAPI contract a generated client relies on: every operation documents its
problem-details errors, nullable fields are nullable, enums are enums, and the token
endpoints declare the security they really need."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from generation.models import GenerationJob
from generation.presets import ASPECT_RATIOS, RESOLUTIONS
from tester_platform.sharing.models import ShareRequest
from tests.conftest import api_as

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/ProblemDetails"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", method.upper(), operation


def _enum(schema, ref_or_schema):
    target = ref_or_schema
    if "allOf" in target:  # a $ref with a description of its own
        target = target["allOf"][0]
    if "$ref" in target:
        target = schema["components"]["schemas"][target["$ref"].split("/")[-1]]
    return target.get("enum")


def test_the_problem_details_component_has_every_member(schema):
    component = schema["components"]["schemas"]["ProblemDetails"]
    assert set(component["properties"]) == {"type", "title", "status", "detail", "code", "errors"}
    assert component["properties"]["status"]["type"] == "integer"
    assert component["properties"]["errors"]["additionalProperties"]["items"]["type"] == "string"


def test_every_operation_documents_its_problem_responses(schema):
    missing = []
    operations = list(_operations(schema))
    assert len(operations) >= 40
    for name, method, operation in operations:
        responses = operation["responses"]
        expected = {"401", "429", "503"}
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            expected.add("404")
        if "requestBody" in operation or method in ("POST", "PUT", "PATCH"):
            expected.add("400")
        # anything past the token endpoint checks scopes and roles (a token may always revoke itself)
        if not name.endswith(" /api/v1/auth/token/"):
            expected.add("403")
            if method in ("POST", "PUT", "PATCH"):
                expected.add("409")
        for status in sorted(expected):
            content = responses.get(status, {}).get("content", {})
            if content.get(PROBLEM, {}).get("schema", {}).get("$ref") != PROBLEM_REF:
                missing.append(f"{name} {status}")
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert list(response.get("content", {})) == [PROBLEM], f"{name} {status}"
    assert not missing, f"undocumented problem responses: {missing}"


def test_the_share_request_reason_fields_are_nullable(schema):
    properties = schema["components"]["schemas"]["ShareRequest"]["properties"]
    assert properties["reason_code"]["nullable"] is True
    assert properties["reason_label"]["nullable"] is True


def test_the_generation_fields_are_enums_of_the_models_values(schema):
    generation = schema["components"]["schemas"]["Generation"]["properties"]
    create = schema["components"]["schemas"]["GenerationCreateRequest"]["properties"]
    assert _enum(schema, generation["mode"]) == list(GenerationJob.Mode.values)
    assert _enum(schema, create["mode"]) == list(GenerationJob.Mode.values)
    assert _enum(schema, generation["status"]) == list(GenerationJob.Status.values)
    for properties in (generation, create):
        assert _enum(schema, properties["aspect_ratio"]) == list(ASPECT_RATIOS)
        assert _enum(schema, properties["resolution"]) == list(RESOLUTIONS)
    share = schema["components"]["schemas"]["ShareRequest"]["properties"]
    assert _enum(schema, share["status"]) == list(ShareRequest.Status.values)


def test_the_token_endpoints_declare_their_real_security(schema):
    token = schema["paths"]["/api/v1/auth/token/"]
    assert token["post"]["security"] == [{}]  # email and password in the body
    assert token["delete"]["security"] == [{"bearerAuth": []}]


@pytest.mark.django_db
def test_a_real_error_matches_the_documented_shape(schema, artist):
    body = api_as(artist).get("/api/v1/generations/999999/").json()
    required = schema["components"]["schemas"]["ProblemDetails"]["required"]
    assert set(required) <= set(body) and body["status"] == 404 and body["errors"] == {}


# The one object the API leaves open on purpose: an audit event's own facts, whose keys
# depend on its action (its `sentence` gives them in words).
FREE_FORM = {"AuditEvent.data"}


def _untyped_objects(schema, node, where, seen=frozenset()):
    """Where, under a response schema, an object has no declared properties and no typed
    values (a bare `{}`, `type: object` alone, or `additionalProperties: {}`/true)."""
    components = schema["components"]["schemas"]
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        if name not in seen:
            yield from _untyped_objects(schema, components[name], name, seen | {name})
        return
    if where in FREE_FORM:
        return
    typed = any(key in node for key in ("type", "$ref", "allOf", "oneOf", "anyOf", "enum", "properties"))
    if not typed:
        yield where
    values = node.get("additionalProperties")
    if (
        node.get("type") == "object"
        and "properties" not in node
        and (values in (None, True, {}) or not isinstance(values, dict))
    ):
        yield where
    for key, child in node.get("properties", {}).items():
        yield from _untyped_objects(schema, child, f"{where}.{key}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict) and node[key]:
            yield from _untyped_objects(schema, node[key], f"{where}.{key}", seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for child in node.get(key, []):
            yield from _untyped_objects(schema, child, where, seen)


def test_no_response_has_an_untyped_object(schema):
    untyped = set()
    for name, _method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            for media_type, content in response.get("content", {}).items():
                if media_type.startswith("application/") and "json" in media_type:
                    untyped |= {
                        f"{name} {status}: {where}"
                        for where in _untyped_objects(schema, content.get("schema", {}), "response")
                    }
    assert not untyped, "\n".join(sorted(untyped))


def test_usage_provenance_appeal_and_ledger_objects_are_components(schema):
    components = schema["components"]["schemas"]

    def ref(prop):
        target = prop.get("items", prop)
        target = target["allOf"][0] if "allOf" in target else target
        return target.get("$ref", "").split("/")[-1]

    usage = components["UsageReport"]["properties"]
    assert (ref(usage["totals"]), ref(usage["quota"]), ref(usage["records"])) == (
        "UsageTotals",
        "ProgramQuota",
        "UsageRecord",
    )
    assert set(components["UsageTotals"]["properties"]) == {
        "jobs",
        "compute_seconds",
        "wall_seconds",
        "queue_seconds",
        "frames",
        "cancelled",
    }
    generation = components["Generation"]["properties"]
    assert ref(generation["provenance"]) == "Provenance"
    assert ref(components["Provenance"]["properties"]["claims"]) == "ProvenanceClaims"
    assert ref(components["ShareRequest"]["properties"]["appeal"]) == "Appeal"
    line = components["LedgerLine"]["properties"]
    assert (ref(line["source"]), ref(line["rate"])) == ("LedgerSource", "LedgerRate")
    assert components["LedgerRate"]["properties"]["amount"]["type"] == "integer"  # minor units
