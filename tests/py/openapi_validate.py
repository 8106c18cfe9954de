"""Checks OpenAPI documents with openapi-spec-validator, for protoc-gen-rsgrpc-openapi's tests.

    openapi_validate.py validate VERSION=PATH...   each document must be valid OpenAPI VERSION (2 or 3.1)
    openapi_validate.py same JSON_PATH YAML_PATH   PyYAML must read the YAML as the same value as the JSON

Prints one line per document and exits 1 if any check fails.
"""

import json
import sys

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator, OpenAPIV31SpecValidator

VALIDATORS = {"2": OpenAPIV2SpecValidator, "3.1": OpenAPIV31SpecValidator}


def load(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            return yaml.safe_load(f)
        return json.load(f)


def main(argv):
    if len(argv) >= 2 and argv[0] == "validate":
        failed = False
        for item in argv[1:]:
            version, path = item.split("=", 1)
            try:
                validate(load(path), cls=VALIDATORS[version])
                print(f"valid OpenAPI {version}: {path}")
            except Exception as error:  # the validator's errors have several types; all mean "invalid"
                failed = True
                print(f"INVALID OpenAPI {version}: {path}: {error}")
        return 1 if failed else 0
    if len(argv) == 3 and argv[0] == "same":
        if load(argv[1]) == load(argv[2]):
            print(f"same value: {argv[1]} {argv[2]}")
            return 0
        print(f"DIFFERENT values: {argv[1]} {argv[2]}")
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
