"""Holds openapi.json to template.yaml, and checks it is a valid OpenAPI 3.1 document.

- Every HTTP route of the template is an operation of the document and the other way
  round, with the same method and path.
- Auth agrees: a route the template opens (Authorizer: NONE) has no security or only the
  Shopify signature; a route behind the JWT authorizer requires the bearer token.
- The document passes openapi-spec-validator (OpenAPI 3.1 and its JSON Schema dialect).

The document itself is generated from the Rust types (`./dev openapi`); a test in
tests/local-stack holds the committed file to them. Before the real files, the script
checks that it catches broken copies, so a check that has stopped looking fails too.

Run by `./dev test`. Usage: python scripts/check_openapi.py [TEMPLATE] [DOCUMENT]
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_aws import REPO_ROOT, http_routes, load_template  # noqa: E402

from openapi_spec_validator import validate  # noqa: E402

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    }


def problems(template: dict, document: dict) -> list[str]:
    found: list[str] = []
    routes = {(r["method"], r["path"]): r for r in http_routes(template)}
    documented = operations(document)
    for key in sorted(routes.keys() - documented.keys()):
        found.append(f"{key[0]} {key[1]} is a route of template.yaml but not in openapi.json")
    for key in sorted(documented.keys() - routes.keys()):
        found.append(f"{key[0]} {key[1]} is in openapi.json but not a route of template.yaml")
    for key in sorted(routes.keys() & documented.keys()):
        schemes = {name for requirement in documented[key].get("security", []) for name in requirement}
        public = routes[key]["auth"] == "none"
        if public and "bearer" in schemes:
            found.append(f"{key[0]} {key[1]} is public in template.yaml but asks for a token in openapi.json")
        if not public and schemes != {"bearer"}:
            found.append(f"{key[0]} {key[1]} is behind the JWT authorizer but openapi.json says {sorted(schemes)}")
    try:
        validate(document)
    except Exception as error:  # the validator raises its own hierarchy
        found.append(f"openapi.json is not valid OpenAPI 3.1: {error}".splitlines()[0])
    return found


def self_test(template: dict, document: dict) -> None:
    """The check must catch each of these breakages."""
    some_path = next(iter(document["paths"]))
    dropped = copy.deepcopy(document)
    del dropped["paths"][some_path]
    opened = copy.deepcopy(document)
    opened["paths"]["/orders"]["get"]["security"] = []
    broken = copy.deepcopy(document)
    broken["paths"]["/orders"]["get"]["responses"] = "none"
    extra = copy.deepcopy(template)
    extra["Resources"]["OrdersApiFunction"]["Properties"]["Events"]["Undocumented"] = {
        "Type": "HttpApi", "Properties": {"Method": "GET", "Path": "/nowhere"}}
    for name, (t, d) in {"a dropped path": (template, dropped), "a route opened": (template, opened),
                         "an invalid document": (template, broken),
                         "an undocumented route": (extra, document)}.items():
        if not problems(t, d):
            sys.exit(f"check_openapi.py no longer catches {name}")


def main() -> None:
    template_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "template.yaml"
    document_path = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO_ROOT / "openapi.json"
    template = load_template(template_path)
    document = json.loads(document_path.read_text())
    self_test(template, document)
    found = problems(template, document)
    for problem in found:
        print(f"openapi: {problem}", file=sys.stderr)
    if found:
        sys.exit(1)
    print(f"openapi.json: {len(operations(document))} operations, valid OpenAPI 3.1, one per template route")


if __name__ == "__main__":
    main()
