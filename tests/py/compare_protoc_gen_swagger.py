"""Compares protoc-gen-rsgrpc-openapi's OpenAPI 2.0 output with grpc-gateway's protoc-gen-swagger, path by
path and definition by definition, for the report in issue 17 (not part of the test command: it needs
Debian's golang-grpc-gateway, which ships protoc-gen-swagger 1.6.4, and a system protoc).

    python3 tests/py/compare_protoc_gen_swagger.py PLUGIN GOOGLEAPIS_DIR [PROTO_ROOT FILE]

Prints what matches and every difference; exits 0 either way (the differences are explained in the note).
"""

import json
import os
import subprocess
import sys
import tempfile


def generate(plugin_name, plugin_path, root, googleapis, proto, out, option=""):
    os.makedirs(out, exist_ok=True)
    subprocess.run(
        [
            "protoc",
            f"--plugin=protoc-gen-{plugin_name}={plugin_path}",
            f"--{plugin_name}_out={option}{out}",
            "-I", root, "-I", googleapis, proto,
        ],
        check=True,
    )
    for base, _, files in os.walk(out):
        for name in files:
            with open(os.path.join(base, name)) as f:
                return json.load(f)
    raise SystemExit(f"{plugin_name} wrote nothing")


def short(ref):
    """A definition's message name, whatever the naming scheme (gatewayBook, rsgrpc.test.gateway.Book)."""
    name = ref.rsplit("/", 1)[-1]
    if "." in name:
        return name.rsplit(".", 1)[-1]
    # grpc-gateway 1.x: the package's last component, then the message name.
    for i, c in enumerate(name):
        if c.isupper():
            return name[i:]
    return name


def describe(schema):
    if not isinstance(schema, dict):
        return repr(schema)
    if "$ref" in schema:
        return "ref " + short(schema["$ref"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + describe(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema:
        return "map of " + describe(schema["additionalProperties"])
    text = kind + ("/" + schema["format"] if "format" in schema else "")
    if "enum" in schema:
        text += " enum" + str(schema["enum"])
    return text


def operations(document):
    result = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            name = op["operationId"].split("_", 1)[-1]
            result[name] = (method, path, op)
    return result


def parameters(op):
    result = {}
    for p in op.get("parameters", []):
        shape = describe(p["schema"]) if "schema" in p else describe(p)
        if p.get("collectionFormat"):
            shape += " (" + p["collectionFormat"] + ")"
        result[(p["in"], p["name"])] = shape
    return result


def main(argv):
    plugin, googleapis = argv[0], argv[1]
    root = argv[2] if len(argv) > 2 else "testdata/gateway/protos"
    proto = argv[3] if len(argv) > 3 else "rsgrpc/test/gateway/library.proto"
    work = tempfile.mkdtemp()
    theirs = generate("swagger", "/usr/bin/protoc-gen-swagger", root, googleapis, proto, work + "/theirs")
    ours = generate("rsgrpc-openapi", plugin, root, googleapis, proto, work + "/ours")
    top = lambda d: {k: v for k, v in d.items() if k not in ("paths", "definitions")}
    print("top level, theirs:", json.dumps(top(theirs), sort_keys=True))
    print("top level, ours:  ", json.dumps(top(ours), sort_keys=True))
    a, b = operations(theirs), operations(ours)
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            print(f"\n{name}: only in {'ours' if name in b else 'theirs'}")
            continue
        (ma, pa, oa), (mb, pb, ob) = a[name], b[name]
        print(f"\n{name}: {ma.upper()} theirs {pa}  ours {pb}" + ("" if ma == mb else f" (ours {mb.upper()})"))
        qa, qb = parameters(oa), parameters(ob)
        same = sorted(k for k in set(qa) & set(qb) if qa[k] == qb[k])
        if same:
            print("  same parameters:", ", ".join(f"{i}:{n}" for i, n in same))
        for key in sorted(set(qa) | set(qb)):
            if qa.get(key) != qb.get(key):
                print(f"  parameter {key[0]}:{key[1]}: theirs {qa.get(key, '-')}, ours {qb.get(key, '-')}")
        for code in sorted(set(oa["responses"]) | set(ob["responses"])):
            ra, rb = oa["responses"].get(code), ob["responses"].get(code)
            da = describe(ra.get("schema", {})) if ra else "-"
            db = describe(rb.get("schema", {})) if rb else "-"
            print(f"  response {code}: " + (f"same ({da})" if da == db else f"theirs {da}, ours {db}"))
        for key in ("summary", "description", "tags"):
            if oa.get(key) != ob.get(key):
                print(f"  {key}: theirs {oa.get(key)!r}, ours {ob.get(key)!r}")
    da = {short(k): v for k, v in theirs.get("definitions", {}).items()}
    db = {short(k): v for k, v in ours.get("definitions", {}).items()}
    print()
    for name in sorted(set(da) | set(db)):
        if name not in da or name not in db:
            print(f"definition {name}: only in {'ours' if name in db else 'theirs'}")
            continue
        pa, pb = da[name].get("properties", {}), db[name].get("properties", {})
        diffs = [
            f"{p}: theirs {describe(pa.get(p)) if p in pa else '-'}, ours {describe(pb.get(p)) if p in pb else '-'}"
            for p in sorted(set(pa) | set(pb))
            if (describe(pa.get(p)) if p in pa else None) != (describe(pb.get(p)) if p in pb else None)
        ]
        if not pa and not pb:
            same = describe(da[name]) == describe(db[name])
            print(f"definition {name}: " + ("same" if same else f"theirs {describe(da[name])}, ours {describe(db[name])}"))
        else:
            print(f"definition {name}: {len(set(pa) & set(pb)) - len([d for d in diffs if '-' not in d])} properties the same"
                  + ("" if not diffs else "; " + "; ".join(diffs)))


if __name__ == "__main__":
    main(sys.argv[1:])
