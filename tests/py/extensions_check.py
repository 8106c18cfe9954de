#!/usr/bin/env python3
"""Proto2 extensions against Python protobuf (the reference), for tests/tests/extensions.rs.

    extensions_check.py DESCRIPTOR_SET DIR gen     writes DIR/python.bin and DIR/python.json: the
                                                   expected rsgrpc.test.ext.Base, binary and JSON
    extensions_check.py DESCRIPTOR_SET DIR check   parses every DIR/rust_*.bin and DIR/rust_*.json (what
                                                   the Rust side wrote) and compares each with the
                                                   expected message; prints one line per file and
                                                   "extensions: N passed, M failed"; exits 1 on a failure

The descriptor set holds testdata/protos (with imports); message classes are built from it at run time.
"""

import sys
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def load(path):
    fds = descriptor_pb2.FileDescriptorSet.FromString(Path(path).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    return pool


def expected(pool):
    """The message both sides build: every kind of extension, plus an unknown field and a closed-enum
    value the enum does not declare (both must survive the Rust side)."""
    base_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("rsgrpc.test.ext.Base"))
    ext = lambda name: pool.FindExtensionByName("rsgrpc.test.ext." + name)
    m = base_cls()
    m.id = 7
    m.Extensions[ext("num")] = -42
    m.Extensions[ext("label")] = "héllo"
    m.Extensions[ext("color")] = 2
    m.Extensions[ext("note")].text = "n"
    m.Extensions[ext("note")].stars = 5
    m.Extensions[ext("packed_nums")].extend([1, -2, 300])
    m.Extensions[ext("tags")].extend(["a", "b"])
    m.Extensions[ext("extra")].a = 9
    m.Extensions[ext("big")] = -(1 << 40)
    m.Extensions[ext("blob")] = b"\x00\xff"
    m.Extensions[ext("ratio")] = 0.5
    m.Extensions[ext("colors")].extend([1, 2])
    n = m.Extensions[ext("notes")].add()
    n.text = "first"
    m.Extensions[ext("notes")].add().stars = 2
    m.Extensions[ext("far")] = 4000000000
    m.Extensions[ext("Scope.flag")] = True
    return m


def main():
    pool = load(sys.argv[1])
    out = Path(sys.argv[2])
    command = sys.argv[3]
    m = expected(pool)
    if command == "gen":
        # An unknown field (199, in an extension range but declared nowhere) and, on the binary side only
        # (JSON cannot carry it), a closed-enum number the enum does not declare (color = 77 after the 2:
        # it is then an unknown field of the extension's number, and the last value is what a reader sees).
        extra = bytes([0xB8, 0x0C, 0x05])  # field 199, varint 5
        unknown_color = bytes([0xB0, 0x06, 77])  # field 102, varint 77
        (out / "python.bin").write_bytes(m.SerializeToString() + extra)
        (out / "python_closed.bin").write_bytes(m.SerializeToString() + unknown_color)
        (out / "python.json").write_text(json_format.MessageToJson(m, descriptor_pool=pool))
        return 0
    passed = failed = 0
    base_cls = type(m)
    for path in sorted(out.glob("rust_*")):
        got = base_cls()
        try:
            if path.suffix == ".json":
                json_format.Parse(path.read_text(), got, descriptor_pool=pool)
            else:
                got.ParseFromString(path.read_bytes())
        except Exception as error:  # noqa: BLE001 - any parse failure is a failed case
            print(f"FAIL {path.name}: does not parse: {error}")
            failed += 1
            continue
        want = base_cls()
        want.CopyFrom(m)
        if path.name.endswith("_unknown.bin"):
            want.MergeFromString(bytes([0xB8, 0x0C, 0x05]))
        if path.name.endswith("_closed.bin"):
            want.MergeFromString(bytes([0xB0, 0x06, 77]))
        if got.SerializeToString(deterministic=True) != want.SerializeToString(deterministic=True):
            print(f"FAIL {path.name}: differs\n got: {got}\nwant: {want}")
            failed += 1
        else:
            print(f"ok   {path.name}")
            passed += 1
    print(f"extensions: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
