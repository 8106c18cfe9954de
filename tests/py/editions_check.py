#!/usr/bin/env python3
"""Editions 2023 and 2024 (testdata/editions) against Python protobuf, for tests/tests/editions.rs.

    editions_check.py DESCRIPTOR_SET DIR gen     for each case NAME (everything, record), writes
        DIR/python_NAME.bin      the expected message, deterministic encoding
        DIR/python_NAME_unknown.bin   the same plus an unknown field and undeclared numbers of closed
                                 enums (singular, repeated, imported), which are unknown fields too
        DIR/python_NAME.json     the expected message as JSON (extensions as "[pkg.ext]" members)
    editions_check.py DESCRIPTOR_SET DIR check   parses every DIR/rust_NAME[_unknown].{bin,json} the Rust
        side wrote and compares it with the expected message (plus the same unknown fields for
        *_unknown.bin); prints one line per file and "editions: N passed, M failed"; exits 1 on failure.
        Also reports, for rust_NAME.bin, whether the bytes equal Python's deterministic encoding.

The descriptor set holds testdata/editions with imports; message classes are built from it at run time.
"""

import sys
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

# Field 150 varint 1 (unknown everywhere), then undeclared numbers of closed enums.
UNKNOWN = {
    # Everything: closed_enum (7) = 77, closed_list (10) += 88, nested.closed is inside a message (skipped).
    "everything": bytes([0xB0, 0x09, 0x01, 0x38, 77, 0x50, 88]),
    # Record: imported_closed (9) = 99, imported_closed_list (10) += 98.
    "record": bytes([0xB0, 0x09, 0x01, 0x48, 99, 0x50, 98]),
}


def load(path):
    fds = descriptor_pb2.FileDescriptorSet.FromString(Path(path).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    return pool


def cls(pool, name):
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def everything(pool):
    m = cls(pool, "rsgrpc.test.ed2023.Everything")()
    m.implicit_int = 5
    m.explicit_int = 0  # explicit presence: a set zero is written
    m.required_int = 3
    m.implicit_string = "s"
    m.open_enum = 5  # open: an undeclared number is a value
    m.closed_enum = 2
    m.packed_ints.extend([1, 2, 3])
    m.expanded_ints.extend([4, 5])
    m.closed_list.extend([1, 2])
    m.open_list.extend([1, 7])
    m.delimited.value = 1
    m.delimited.note = "d"
    m.delimited_list.add().value = 2
    m.delimited_list.add().value = 3
    m.prefixed.value = 4
    m.unverified = "\u00fc"
    m.leaves["k"].value = 6
    m.open_map[1] = 1
    m.delimited_choice.value = 7
    m.nested.ratio = 0.25
    m.nested.closed = 1
    m.signed = -9
    m.data = b"\x01"
    m.ratio = 1.5
    ext = lambda name: pool.FindExtensionByName("rsgrpc.test.ed2023." + name)
    m.Extensions[ext("ext_int")] = 11
    m.Extensions[ext("ext_packed")].extend([1, 2])
    m.Extensions[ext("ext_delimited")].value = 12
    m.Extensions[ext("ext_closed")] = 1
    return m


def record(pool):
    m = cls(pool, "rsgrpc.test.ed2024.Record")()
    m.id = 0
    m.count = 2
    m.samples.extend([1, 2])
    m.packed_samples.extend([3, 4])
    m.level = 2
    m.part.name = "p"
    m.part.size = 5
    m.part_choice.name = "c"
    m.imported_closed = 2
    m.imported_closed_list.extend([1])
    m.name = "n"
    return m


CASES = {"everything": everything, "record": record}


def main():
    pool = load(sys.argv[1])
    out = Path(sys.argv[2])
    command = sys.argv[3]
    expected = {name: build(pool) for name, build in CASES.items()}
    if command == "gen":
        for name, m in expected.items():
            data = m.SerializeToString(deterministic=True)
            (out / f"python_{name}.bin").write_bytes(data)
            (out / f"python_{name}_unknown.bin").write_bytes(data + UNKNOWN[name])
            (out / f"python_{name}.json").write_text(json_format.MessageToJson(m, descriptor_pool=pool))
        return 0
    passed = failed = 0
    for path in sorted(out.glob("rust_*")):
        name = path.stem.removeprefix("rust_").removesuffix("_unknown")
        want = type(expected[name])()
        want.CopyFrom(expected[name])
        if path.stem.endswith("_unknown"):
            want.MergeFromString(UNKNOWN[name])
        got = type(want)()
        try:
            if path.suffix == ".json":
                json_format.Parse(path.read_text(), got, descriptor_pool=pool)
            else:
                got.ParseFromString(path.read_bytes())
        except Exception as error:  # noqa: BLE001 - any parse failure is a failed case
            print(f"FAIL {path.name}: does not parse: {error}")
            failed += 1
            continue
        if got.SerializeToString(deterministic=True) != want.SerializeToString(deterministic=True):
            print(f"FAIL {path.name}: differs\n got: {got}\nwant: {want}")
            failed += 1
            continue
        identical = ""
        if path.suffix == ".bin" and not path.stem.endswith("_unknown"):
            same = path.read_bytes() == want.SerializeToString(deterministic=True)
            identical = " (bytes identical to Python's)" if same else " (bytes differ from Python's)"
        print(f"ok   {path.name}{identical}")
        passed += 1
    print(f"editions: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
