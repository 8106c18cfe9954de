#!/usr/bin/env python3
"""Wire-compatibility corpus: Python protobuf (upb) as the independent reference for rsgrpc.

Needs only the standard library and PyPI `protobuf` (made with 7.36.2, upb backend):
    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install protobuf==7.36.2
Message classes are built at run time from a descriptor set, no generated _pb2 files (file order
decides the type indexes of random.bin, hence the sort):
    cd testdata/protos
    protoc -I . --include_imports --descriptor_set_out=/tmp/all.pb $(find . -name '*.proto' | sort)

Record files: a sequence of records, each
    u32 little-endian len(NAME) | NAME (utf-8) | u32 little-endian len(PAYLOAD) | PAYLOAD
with NAME = "<case-id>|<message full name>". Python payloads use SerializeToString(deterministic=True).

Protocol:
  gen --out DIR     writes DIR/random.bin: random messages of every message type of the non-google
                    files (case ids random-<type-index>-<i>); DIR/handbuilt.bin: hand-built cases,
                    listed in tests/py/HANDBUILT.md; DIR/unknown.bin: rsgrpc.test.evolution.v2.Record
                    and rsgrpc.test.evolution.v2groups.Record messages (case ids unknown-...). Then it
                    reads every file back and checks that Python re-encodes each payload identically.
  (Rust tests)      decode each unknown.bin payload as rsgrpc.test.evolution.v1.Record, which knows
                    fewer fields, re-encode it and write DIR/roundtrip.bin: same names, same order.
                    Encode the Rust mirrors of the hand-built cases into DIR/rust_handbuilt.bin under
                    the same names.
  check-roundtrip   parses each unknown.bin payload and its roundtrip.bin counterpart as the named
                    (v2) type: they must be equal, i.e. the v1 reader kept every unknown field.
                    Closing line: "wire roundtrip: N passed, M failed".
  check-encoded     parses each rust_handbuilt.bin payload and compares it with Python's own message
                    of that case id; byte identity with Python's encoding is reported, not required.
                    Closing line: "wire handbuilt: N passed, M failed".
The checks exit 1 on any failure, records that do not line up included, and 0 otherwise.
"""

import argparse
import dataclasses
import functools
import math
import random
import struct
import sys
import time
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.descriptor import FieldDescriptor as FD

RANDOM_FILE = "random.bin"
HANDBUILT_FILE = "handbuilt.bin"
UNKNOWN_FILE = "unknown.bin"
ROUNDTRIP_FILE = "roundtrip.bin"
RUST_HANDBUILT_FILE = "rust_handbuilt.bin"

EVOLUTION_TYPES = ("rsgrpc.test.evolution.v2.Record", "rsgrpc.test.evolution.v2groups.Record")
UNKNOWN_RANDOM_COUNT = 20
MAX_DEPTH = 3
TEXT_LIMIT = 400


# ---------------------------------------------------------------------------------------------------
# Record files


def write_records(path, records):
    """Writes (name, payload) pairs in the length-prefixed framing shared with the Rust tests."""
    with open(path, "wb") as out:
        for name, payload in records:
            encoded = name.encode("utf-8")
            out.write(struct.pack("<I", len(encoded)) + encoded)
            out.write(struct.pack("<I", len(payload)) + payload)


def read_records(path):
    """Reads a record file strictly: a truncated file is an error, not a shorter list."""
    data = Path(path).read_bytes()
    records, offset = [], 0
    while offset < len(data):
        name, offset = _read_chunk(data, offset, path)
        payload, offset = _read_chunk(data, offset, path)
        records.append((name.decode("utf-8"), payload))
    return records


def _read_chunk(data, offset, path):
    """One u32-length-prefixed chunk; raises ValueError with the offset so a bad writer is findable."""
    if offset + 4 > len(data):
        raise ValueError(f"{path}: truncated length prefix at byte {offset}")
    (length,) = struct.unpack_from("<I", data, offset)
    end = offset + 4 + length
    if end > len(data):
        raise ValueError(f"{path}: chunk at byte {offset} claims {length} bytes, file ends at {len(data)}")
    return data[offset + 4:end], end


def record_name(case_id, message):
    """The record NAME: the case id plus the type, so a reader knows how to parse the payload."""
    return f"{case_id}|{message.DESCRIPTOR.full_name}"


def split_name(name):
    """Inverse of record_name; the case id never contains '|'."""
    case_id, _, type_name = name.partition("|")
    return case_id, type_name


def encode(message):
    """The one serialization used everywhere: deterministic, so map order is sorted and stable."""
    return message.SerializeToString(deterministic=True)


# ---------------------------------------------------------------------------------------------------
# Schema


class Schema:
    """The descriptor set in a private pool, so the test does not depend on any generated module."""

    def __init__(self, path):
        self.files = descriptor_pb2.FileDescriptorSet.FromString(Path(path).read_bytes()).file
        self.pool = descriptor_pool.DescriptorPool()
        for file_proto in self.files:
            self.pool.Add(file_proto)
            prefix = f"{file_proto.package}." if file_proto.package else ""
            _index_protos(prefix, file_proto.message_type)

    def message_class(self, full_name):
        """Raises KeyError for a type the descriptor set does not define."""
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    def parse(self, full_name, payload):
        """Parses payload as full_name; raises KeyError or DecodeError."""
        return self.message_class(full_name).FromString(payload)

    def corpus_types(self):
        """Every message type of the project's own files, in declaration order, nested ones included.

        Map entries are skipped (they only exist inside maps), and so are google.protobuf.* files:
        their types are still exercised as fields of rsgrpc.test.wkt.WellKnown.
        """
        descriptors = []
        for file_proto in self.files:
            if file_proto.package == "google.protobuf":
                continue
            prefix = f"{file_proto.package}." if file_proto.package else ""
            for message_proto in file_proto.message_type:
                top = self.pool.FindMessageTypeByName(prefix + message_proto.name)
                descriptors.extend(_with_nested(top))
        return descriptors


def _with_nested(descriptor):
    """descriptor followed by its nested types, depth first, without map entries."""
    if descriptor.GetOptions().map_entry:
        return []
    found = [descriptor]
    for nested in descriptor.nested_types:
        found.extend(_with_nested(nested))
    return found


# DescriptorProto by full name, filled by Schema: the pure-Python backend cannot CopyToProto descriptors of a
# pool built from protos, so the protos themselves are kept.
_MESSAGE_PROTOS = {}


def _index_protos(prefix, message_protos):
    for proto in message_protos:
        _MESSAGE_PROTOS[prefix + proto.name] = proto
        _index_protos(f"{prefix}{proto.name}.", proto.nested_type)


@functools.lru_cache(maxsize=None)
def real_oneofs(descriptor):
    """The oneofs written in the .proto: the synthetic ones of proto3 `optional` fields are excluded.

    The Python descriptor API has no is_synthetic flag, so this reads proto3_optional from the proto.
    """
    proto = _MESSAGE_PROTOS[descriptor.full_name]
    synthetic = {proto.oneof_decl[f.oneof_index].name for f in proto.field if f.proto3_optional}
    return tuple(oneof for oneof in descriptor.oneofs if oneof.name not in synthetic)


def is_map(field):
    """Map fields are repeated messages whose type is a map entry."""
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def holds_messages(field):
    """Whether setting field creates a sub-message: the depth limit applies to such fields."""
    if is_map(field):
        return field.message_type.fields_by_name["value"].type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP)
    return field.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP)


# ---------------------------------------------------------------------------------------------------
# Random values


def f64_from_bits(bits):
    """A double with an exact bit pattern (Python float literals cannot spell every NaN or subnormal)."""
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def f32_from_bits(bits):
    """A float32 bit pattern widened to a Python float; exact, so a float field stores it unchanged."""
    return struct.unpack("<f", struct.pack("<I", bits))[0]


F64_NAN = f64_from_bits(0x7FF8000000000000)
F32_MAX = f32_from_bits(0x7F7FFFFF)
F32_MIN_NORMAL = f32_from_bits(0x00800000)
F32_MIN_SUBNORMAL = f32_from_bits(0x00000001)
F64_MAX = f64_from_bits(0x7FEFFFFFFFFFFFFF)
F64_MIN_NORMAL = f64_from_bits(0x0010000000000000)
F64_MIN_SUBNORMAL = f64_from_bits(0x0000000000000001)
F64_MAX_SUBNORMAL = f64_from_bits(0x000FFFFFFFFFFFFF)

INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}
INF = math.inf
DOUBLE_SPECIALS = (0.0, -0.0, INF, -INF, F64_NAN, F64_MIN_SUBNORMAL, -F64_MIN_SUBNORMAL,
                   F64_MAX_SUBNORMAL, F64_MIN_NORMAL, F64_MAX, -F64_MAX, 1.0, -1.0, 0.1)
FLOAT_SPECIALS = (0.0, -0.0, INF, -INF, F64_NAN, F32_MIN_SUBNORMAL, -F32_MIN_SUBNORMAL,
                  F32_MIN_NORMAL, F32_MAX, -F32_MAX, 1.0, -1.0, f32_from_bits(0x3DCCCCCD))
# Code point ranges by UTF-8 length (controls and NUL included, surrogates excluded).
CODE_POINT_RANGES = ((0x00, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF))
OPEN_ENUM_UNKNOWN_VALUES = (12345, -7)


@dataclasses.dataclass(frozen=True)
class Density:
    """How much of a message the filler sets."""

    presence: float  # chance that a field with explicit presence is set
    implicit: float  # chance that an implicit-presence proto3 field gets a random value
    min_items: int  # least number of elements of a repeated field or entries of a map
    oneof: float  # chance that a oneof has a member set


SPARSE = Density(presence=0.5, implicit=0.5, min_items=0, oneof=0.75)
DENSE = Density(presence=1.0, implicit=1.0, min_items=1, oneof=1.0)


class Filler:
    """Fills any message by reflection over its descriptor with values that stress the wire format.

    Every field kind either gets a value or raises: a new kind must not be skipped silently.
    """

    def __init__(self, rng, pool, density=SPARSE):
        self.rng = rng
        self.pool = pool
        self.density = density

    def fill(self, message, depth=0):
        """Sets fields of message; at MAX_DEPTH only required fields may hold sub-messages."""
        descriptor = message.DESCRIPTOR
        oneofs = real_oneofs(descriptor)
        oneof_names = {oneof.name for oneof in oneofs}
        for field in list(descriptor.fields) + self.extensions(descriptor):
            in_oneof = field.containing_oneof is not None and field.containing_oneof.name in oneof_names
            if not in_oneof and self._wanted(field, depth):
                self._set(message, field, depth)
        for oneof in oneofs:
            self._fill_oneof(message, oneof, depth)

    def extensions(self, descriptor):
        """The extensions of descriptor to fill, by number.

        Extensions are filled like fields: a Rust reader keeps them as unknown fields. They are sorted
        because the pool lists them in hash-table order, which changes from run to run.
        """
        return sorted(self.pool.FindAllExtensions(descriptor), key=lambda extension: extension.number)

    def _wanted(self, field, depth):
        """Required fields always; otherwise depth limit, then presence odds by field kind."""
        if field.is_required:
            return True
        if holds_messages(field) and depth >= MAX_DEPTH:
            return False
        if field.is_repeated:
            return True
        odds = self.density.presence if field.has_presence else self.density.implicit
        return self.rng.random() < odds

    def _fill_oneof(self, message, oneof, depth):
        """Sets no member or one random member (message members only above the depth limit)."""
        members = [f for f in oneof.fields if not (holds_messages(f) and depth >= MAX_DEPTH)]
        if members and self.rng.random() < self.density.oneof:
            self._set(message, self.rng.choice(members), depth)

    def _set(self, message, field, depth):
        """Gives one field (or extension) a value, whatever its kind."""
        if is_map(field):
            self._fill_map(getattr(message, field.name), field, depth)
        elif field.is_repeated:
            self._fill_repeated(_get(message, field), field, depth)
        elif field.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
            child = _get(message, field)
            child.SetInParent()
            self.fill(child, depth + 1)
        else:
            _put(message, field, self.scalar(field))

    def _fill_repeated(self, container, field, depth):
        """0..5 elements (at least min_items)."""
        for _ in range(self._length(5)):
            if field.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
                self.fill(container.add(), depth + 1)
            else:
                container.append(self.scalar(field))

    def _fill_map(self, container, field, depth):
        """0..4 entries; keys and values are often the type's default to stress entry encoding."""
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        for _ in range(self._length(4)):
            key = self._maybe_default(key_field)
            if value_field.type == FD.TYPE_MESSAGE:
                self.fill_map_value(container[key], depth + 1)
            else:
                container[key] = self._maybe_default(value_field)

    def fill_map_value(self, value, depth):
        """Fills a map's message value three times in four: an empty value message is a case of its own."""
        if self.rng.random() < 0.75:
            self.fill(value, depth)

    def _maybe_default(self, field):
        """The field's default value one time in four, else a random one."""
        return field.default_value if self.rng.random() < 0.25 else self.scalar(field)

    def _length(self, most):
        """A random length up to most; zero is as likely as any other unless the density forbids it."""
        return self.rng.randint(min(self.density.min_items, most), most)

    def scalar(self, field):
        """A random value for a non-message field; raises for a kind this filler does not know."""
        kind = field.type
        if kind in INT_RANGES:
            return self._integer(*INT_RANGES[kind])
        generators = {
            FD.TYPE_DOUBLE: self._double,
            FD.TYPE_FLOAT: self._float32,
            FD.TYPE_BOOL: lambda: self.rng.random() < 0.5,
            FD.TYPE_STRING: self._string,
            FD.TYPE_BYTES: self._bytes,
            FD.TYPE_ENUM: lambda: self._enum(field.enum_type),
        }
        if kind not in generators:
            raise TypeError(f"no random value for field {field.full_name} of type {kind}")
        return generators[kind]()

    def _integer(self, low, high):
        """Edge values about a third of the time, else a random bit length so every varint size occurs."""
        rng = self.rng
        if rng.random() < 0.35:
            return rng.choice([v for v in (0, -1, 1, low, high, low + 1, high - 1) if low <= v <= high])
        magnitude_bits = high.bit_length()
        value = rng.getrandbits(rng.randint(1, magnitude_bits))
        return -value if low < 0 and rng.random() < 0.5 else value

    def _double(self):
        """Specials, random bit patterns (all exponents) or random decimal magnitudes; NaN only canonical."""
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(DOUBLE_SPECIALS)
        if roll < 0.65:
            return self._non_nan(lambda: f64_from_bits(self.rng.getrandbits(64)))
        return self.rng.choice((-1, 1)) * self.rng.random() * 10.0 ** self.rng.randint(-300, 300)

    def _float32(self):
        """Like _double, but every value is exactly representable as a float32."""
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(FLOAT_SPECIALS)
        if roll < 0.65:
            return self._non_nan(lambda: f32_from_bits(self.rng.getrandbits(32)))
        value = self.rng.choice((-1, 1)) * self.rng.random() * 10.0 ** self.rng.randint(-38, 37)
        return struct.unpack("<f", struct.pack("<f", value))[0]

    @staticmethod
    def _non_nan(draw):
        """Redraws NaNs: payload bits of a NaN need not survive every language's float handling."""
        while True:
            value = draw()
            if not math.isnan(value):
                return value

    def _string(self):
        """Empty, ASCII, mixed 1- to 4-byte UTF-8, or (rarely) a few KB long."""
        roll = self.rng.random()
        if roll < 0.15:
            return ""
        if roll < 0.45:
            return "".join(chr(self.rng.randint(0x20, 0x7E)) for _ in range(self.rng.randint(1, 20)))
        length = self.rng.randint(1, 20) if roll < 0.95 else self.rng.randint(1000, 3000)
        return "".join(chr(self.rng.randint(*self.rng.choice(CODE_POINT_RANGES))) for _ in range(length))

    def _bytes(self):
        """Empty, short random, or (rarely) a few KB of random bytes."""
        roll = self.rng.random()
        if roll < 0.2:
            return b""
        length = self.rng.randint(1, 32) if roll < 0.95 else self.rng.randint(1024, 8192)
        return self.rng.randbytes(length)

    def _enum(self, enum):
        """A declared value; open (proto3) enums sometimes get an undeclared one, which stays legal."""
        if not enum.is_closed and self.rng.random() < 0.15:
            return self.rng.choice(OPEN_ENUM_UNKNOWN_VALUES)
        return self.rng.choice(enum.values).number


def _get(message, field):
    """The value or container of a field or of an extension."""
    return message.Extensions[field] if field.is_extension else getattr(message, field.name)


def _put(message, field, value):
    """Sets a singular non-message field or extension."""
    if field.is_extension:
        message.Extensions[field] = value
    else:
        setattr(message, field.name, value)


def random_cases(schema, seed, count):
    """count random messages per corpus type; each type has its own generator so that adding a type
    does not change the messages of the others."""
    cases = []
    for index, descriptor in enumerate(schema.corpus_types()):
        filler = Filler(random.Random(f"{seed}/{descriptor.full_name}"), schema.pool)
        message_class = message_factory.GetMessageClass(descriptor)
        for i in range(count):
            message = message_class()
            filler.fill(message)
            cases.append((f"random-{index}-{i}", message))
    return cases


# ---------------------------------------------------------------------------------------------------
# Hand-built cases. Each is mirrored by hand in Rust: keep them explicit and in step with HANDBUILT.md.

HANDBUILT = []


def handbuilt(case_id):
    """Registers a case builder; builders get `t`, which maps a full type name to its class."""

    def register(build):
        HANDBUILT.append((case_id, build))
        return build

    return register


def big_bytes():
    """1 MiB with a period (251) that is not a power of two, so misplaced chunks show."""
    return bytes(i % 251 for i in range(1 << 20))


def big_string():
    """100 KB (102400 bytes of UTF-8) mixing 1-, 2-, 3- and 4-byte characters."""
    return "a\u00e9\u20ac\U0001F600" * 10240


@handbuilt("scalars-extremes")
def _scalars_extremes(t):
    return t("rsgrpc.test.v3.Scalars")(
        f_double=-F64_MAX,
        f_float=-F32_MAX,
        f_int32=-(2**31),
        f_int64=-(2**63),
        f_uint32=2**32 - 1,
        f_uint64=2**64 - 1,
        f_sint32=-(2**31),
        f_sint64=-(2**63),
        f_fixed32=2**32 - 1,
        f_fixed64=2**64 - 1,
        f_sfixed32=-(2**31),
        f_sfixed64=-(2**63),
        f_bool=True,
        f_string="h\u00e9llo \u2713 \U0001F600",
        f_bytes=b"\x00\x01\xfe\xff",
        f_enum="COLOR_INFRARED",
        f_high_number=-1,
    )


@handbuilt("scalars-negative-zero")
def _scalars_negative_zero(t):
    return t("rsgrpc.test.v3.Scalars")(f_double=-0.0, f_float=-0.0)


@handbuilt("scalars-empty")
def _scalars_empty(t):
    return t("rsgrpc.test.v3.Scalars")()


@handbuilt("scalars-large")
def _scalars_large(t):
    return t("rsgrpc.test.v3.Scalars")(f_bytes=big_bytes(), f_string=big_string(), f_high_number=1)


@handbuilt("outer-nested")
def _outer_nested(t):
    inner = t("rsgrpc.test.v3.Outer.Middle.Inner")
    return t("rsgrpc.test.v3.Outer")(
        middle=t("rsgrpc.test.v3.Outer.Middle")(
            inner=inner(value=-1, kind="KIND_A"),
            inners=[inner(value=1), inner(), inner(value=2**63 - 1, kind="KIND_B")],
        ),
        inner=inner(value=42, kind="KIND_B"),
        kind="KIND_B",
        status="STATUS_RUNNING",
        plain="TWO_WORDS",
    )


@handbuilt("node-tree")
def _node_tree(t):
    node = t("rsgrpc.test.v3.Node")
    return node(
        name="root",
        left=node(name="l", left=node(name="ll", right=node(name="llr"))),
        right=node(name="r", children=[node(name="rc0"), node()]),
        children=[
            node(name="c0", alternative=node(name="c0alt", maybe=node(name="c0altm"))),
            node(name="c1", note=""),
        ],
        named={"": node(), "k": node(name="k", named={"kk": node(name="kk")})},
        note="root note",
        maybe=node(name="m", maybe=node()),
    )


@handbuilt("ping-pong")
def _ping_pong(t):
    ping, pong = t("rsgrpc.test.v3.Ping"), t("rsgrpc.test.v3.Pong")
    innermost = ping(depth=4, pong=pong())
    return ping(depth=0, pong=pong(depth=1, ping=ping(depth=2, pong=pong(depth=3, ping=innermost))))


@handbuilt("choice-none")
def _choice_none(t):
    return t("rsgrpc.test.v3.Choice")(before="b", between=-4, after=11)


@handbuilt("choice-int-zero")
def _choice_int_zero(t):
    return t("rsgrpc.test.v3.Choice")(as_int=0, flag=False)


@handbuilt("choice-string")
def _choice_string(t):
    middle, inner = t("rsgrpc.test.v3.Outer.Middle"), t("rsgrpc.test.v3.Outer.Middle.Inner")
    return t("rsgrpc.test.v3.Choice")(
        before="before",
        as_string="\u00fcn\u00efc\u00f6de",
        between=-5,
        nested=middle(inner=inner(value=7)),
        after=9,
    )


@handbuilt("choice-bytes")
def _choice_bytes(t):
    return t("rsgrpc.test.v3.Choice")(as_bytes=b"\x00\xff", big=2**64 - 1)


@handbuilt("choice-message")
def _choice_message(t):
    scalars = t("rsgrpc.test.v3.Scalars")
    return t("rsgrpc.test.v3.Choice")(as_message=scalars(f_int32=1, f_string="in oneof"), after=1)


@handbuilt("choice-enum")
def _choice_enum(t):
    return t("rsgrpc.test.v3.Choice")(as_enum="COLOR_UNSPECIFIED", nested=t("rsgrpc.test.v3.Outer.Middle")())


@handbuilt("choice-double")
def _choice_double(t):
    return t("rsgrpc.test.v3.Choice")(as_double=-0.0, big=0)


@handbuilt("maps-all")
def _maps_all(t):
    scalars = t("rsgrpc.test.v3.Scalars")
    middle, inner = t("rsgrpc.test.v3.Outer.Middle"), t("rsgrpc.test.v3.Outer.Middle.Inner")
    return t("rsgrpc.test.v3.Maps")(
        int32_to_int32={0: 0, -1: 2**31 - 1, -(2**31): -(2**31)},
        int64_to_int64={0: -1, 2**63 - 1: -(2**63)},
        uint32_to_uint32={0: 2**32 - 1, 2**32 - 1: 0},
        uint64_to_uint64={0: 1, 2**64 - 1: 2**64 - 1},
        sint32_to_sint32={0: -1, -(2**31): 2**31 - 1},
        sint64_to_sint64={0: 0, -(2**63): 2**63 - 1, 1: -1},
        fixed32_to_fixed32={0: 1, 2**32 - 1: 2**32 - 1},
        fixed64_to_fixed64={0: 0, 2**64 - 1: 1},
        sfixed32_to_sfixed32={0: -(2**31), -1: 2**31 - 1},
        sfixed64_to_sfixed64={0: -1, -(2**63): 2**63 - 1},
        bool_to_bool={False: True, True: False},
        string_to_string={"": "", "key": "v\u00e4lue", "\U0001F600": "four-byte key"},
        string_to_bytes={"": b"", "bin": b"\x00\x01\xff"},
        string_to_double={"": 0.0, "neg": -2.5, "inf": INF},
        int32_to_float={0: 0.0, 1: 1.5, -1: -F32_MAX},
        string_to_enum={"": 0, "red": 1, "infrared": -1},
        string_to_message={"": scalars(), "x": scalars(f_int32=-1, f_string="in map")},
        uint64_to_nested={
            0: middle(),
            7: middle(inner=inner(value=-7, kind="KIND_B"), inners=[inner(value=1)]),
        },
    )


@handbuilt("repeated-scalars")
def _repeated_scalars(t):
    scalars = t("rsgrpc.test.v3.Scalars")
    return t("rsgrpc.test.v3.RepeatedScalars")(
        r_double=[0.0, -0.0, 1.5, INF, -INF, F64_NAN, F64_MIN_SUBNORMAL],
        r_float=[0.0, -1.5, F32_MAX, F32_MIN_SUBNORMAL],
        r_int32=[0, -1, 2**31 - 1, -(2**31)],
        r_int64=[0, -1, 2**63 - 1, -(2**63)],
        r_uint32=[0, 1, 2**32 - 1],
        r_uint64=[0, 2**64 - 1],
        r_sint32=[0, -1, 1, -(2**31), 2**31 - 1],
        r_sint64=[-(2**63), 2**63 - 1],
        r_fixed32=[0, 2**32 - 1],
        r_fixed64=[2**64 - 1, 0],
        r_sfixed32=[-(2**31), -1],
        r_sfixed64=[-(2**63), 1],
        r_bool=[True, False, True],
        r_string=["", "a", "\u00e9\U0001F600"],
        r_bytes=[b"", b"\x00", b"\xff\xfe"],
        r_enum=[1, -1, 0, -7],
        r_message=[scalars(), scalars(f_int32=1)],
        u_int32=[0, -1, 300],
        u_sint64=[-1, 0, 1],
        u_fixed32=[1, 2],
        u_double=[-0.0, 2.5],
        u_bool=[False],
        u_enum=["COLOR_GREEN", 12345],
    )


@handbuilt("optional-zeros")
def _optional_zeros(t):
    return t("rsgrpc.test.v3.OptionalScalars")(
        f_double=0.0,
        f_float=0.0,
        f_int32=0,
        f_int64=0,
        f_uint32=0,
        f_uint64=0,
        f_sint32=0,
        f_sint64=0,
        f_fixed32=0,
        f_fixed64=0,
        f_sfixed32=0,
        f_sfixed64=0,
        f_bool=False,
        f_string="",
        f_bytes=b"",
        f_enum="COLOR_UNSPECIFIED",
        f_message=t("rsgrpc.test.v3.Scalars")(),
    )


@handbuilt("v2-required")
def _v2_required(t):
    return t("rsgrpc.test.v2.Required")(
        id=-1, name="", size="SIZE_SMALL", leaf=t("rsgrpc.test.v2.Leaf")(), with_default=-42
    )


@handbuilt("v2-defaults-partial")
def _v2_defaults_partial(t):
    return t("rsgrpc.test.v2.Defaults")(
        d_double=0.0,
        d_float=3.25,
        d_int32=-7,
        d_uint64=0,
        d_sint32=2**31 - 1,
        d_bool=False,
        d_string="",
        d_bytes=b"\x00\x01\xffbin",
        d_enum="SIZE_SMALL",
        d_nan=1.0,
        no_default_enum="SIZE_MEDIUM",
        no_default_int=0,
    )


@handbuilt("v2-repeated")
def _v2_repeated(t):
    return t("rsgrpc.test.v2.Repeated")(
        unpacked_int32=[0, -1, 2**31 - 1],
        packed_int32=[-(2**31), 0, 1],
        packed_sint64=[-(2**63), -1, 2**63 - 1],
        unpacked_enum=["SIZE_LARGE", "SIZE_SMALL"],
        packed_enum=["SIZE_MEDIUM", "SIZE_MEDIUM", "SIZE_LARGE"],
        packed_double=[-0.0, 1e-300, -INF],
        strings=["", "two", "\u2202rei"],
    )


@handbuilt("v2-groups")
def _v2_groups(t):
    entry, leaf = t("rsgrpc.test.v2.WithGroups.Entry"), t("rsgrpc.test.v2.Leaf")
    return t("rsgrpc.test.v2.WithGroups")(
        item=t("rsgrpc.test.v2.WithGroups.Item")(a=-1, b="grouped"),
        entry=[entry(key=0), entry(key=-5, leaf=leaf(label="leaf in group"))],
        pick=t("rsgrpc.test.v2.WithGroups.Pick")(x=42),
        after=7,
    )


@handbuilt("v2-groups-empty")
def _v2_groups_empty(t):
    return t("rsgrpc.test.v2.WithGroups")(item=t("rsgrpc.test.v2.WithGroups.Item")(), number=0)


def _with_fields(message, **values):
    """Sets fields by attribute: a field named `self` cannot be a constructor argument everywhere."""
    for name, value in values.items():
        setattr(message, name, value)
    return message


@handbuilt("keywords")
def _keywords(t):
    string = t("rsgrpc.test.type.String")
    option = t("rsgrpc.test.type.Option")
    # Python keywords cannot be argument names.
    python_keywords = {"as": 1, "async": 2, "await": 3, "break": -4, "yield": 46, "try": 47}
    return t("rsgrpc.test.type.Keywords")(
        **python_keywords,
        fn=12,
        match=19,
        type=30,
        gen=48,
        unknown_fields=49,
        self_message=_with_fields(t("rsgrpc.test.type.Self")(), self=-9),
        option=option(value=-1),
        result=t("rsgrpc.test.type.Result")(ok=option(value=5), err=string(string="error text")),
        while_true=string(string="loop"),
        clear=0,
        encoded_len=0,
    )


@handbuilt("shop-order")
def _shop_order(t):
    money, item = t("rsgrpc.test.common.Money"), t("rsgrpc.test.shop.Item")
    return t("rsgrpc.test.shop.Order")(
        id="order-1",
        items=[item(sku="A-1", price=money(currency="EUR", units=10, nanos=990000000)), item()],
        total=money(currency="EUR", units=-5, nanos=-500000000),
        region="REGION_US",
        detail=t("rsgrpc.test.v3.Outer.Middle.Inner")(value=-1, kind="KIND_A"),
        prices={"A-1": money(currency="EUR", units=10), "": money()},
    )


@handbuilt("wkt-all")
def _wkt_all(t):
    value, struct_ = t("google.protobuf.Value"), t("google.protobuf.Struct")
    list_, any_ = t("google.protobuf.ListValue"), t("google.protobuf.Any")
    money = t("rsgrpc.test.common.Money")(currency="EUR", units=12, nanos=500000000)
    return t("rsgrpc.test.wkt.WellKnown")(
        any=any_(type_url="type.googleapis.com/rsgrpc.test.common.Money", value=encode(money)),
        duration=t("google.protobuf.Duration")(seconds=-3661, nanos=-5),
        empty=t("google.protobuf.Empty")(),
        field_mask=t("google.protobuf.FieldMask")(paths=["id", "items.price", "a_b.c_d"]),
        struct=struct_(fields={
            "null": value(null_value="NULL_VALUE"),
            "flag": value(bool_value=True),
            "number": value(number_value=-2.5),
            "text": value(string_value="h\u00e9"),
            "list": value(list_value=list_(values=[
                value(number_value=1.0),
                value(string_value="two"),
                value(null_value="NULL_VALUE"),
                value(struct_value=struct_(fields={"inner": value(bool_value=False)})),
            ])),
            "object": value(struct_value=struct_(fields={"empty_list": value(list_value=list_())})),
        }),
        value=value(string_value=""),
        list_value=list_(values=[value(number_value=0.0), value(null_value="NULL_VALUE")]),
        timestamp=t("google.protobuf.Timestamp")(seconds=1700000000, nanos=123456789),
        double_value=t("google.protobuf.DoubleValue")(value=-0.5),
        float_value=t("google.protobuf.FloatValue")(value=1.5),
        int64_value=t("google.protobuf.Int64Value")(value=-(2**63)),
        uint64_value=t("google.protobuf.UInt64Value")(value=2**64 - 1),
        int32_value=t("google.protobuf.Int32Value")(value=0),
        uint32_value=t("google.protobuf.UInt32Value")(value=2**32 - 1),
        bool_value=t("google.protobuf.BoolValue")(value=False),
        string_value=t("google.protobuf.StringValue")(value="wrapped"),
        bytes_value=t("google.protobuf.BytesValue")(value=b"\x00\xff"),
        anys=[any_(type_url="type.googleapis.com/rsgrpc.test.v3.Scalars"), any_()],
        values={"": value(null_value="NULL_VALUE"), "n": value(number_value=1e-10)},
    )


def handbuilt_cases(schema):
    """(case id, message) for every registered hand-built case, in registration order."""
    return [(case_id, build(schema.message_class)) for case_id, build in HANDBUILT]


# ---------------------------------------------------------------------------------------------------
# Evolution (unknown field) cases


def unknown_cases(schema, seed):
    """Messages of the v2 record types, to be read by the v1 reader that must keep unknown fields."""
    cases = _unknown_handbuilt(schema.message_class)
    filler = Filler(random.Random(f"{seed}/unknown"), schema.pool, DENSE)
    for type_name in EVOLUTION_TYPES:
        short = type_name.split(".")[-2]
        for i in range(UNKNOWN_RANDOM_COUNT):
            message = schema.message_class(type_name)()
            filler.fill(message)
            cases.append((f"unknown-{short}-random-{i}", message))
    return cases


def _unknown_handbuilt(t):
    """Every field set, a sub-message whose only field is unknown, and a message unknown to v1 as a whole."""
    v2_sub, groups = t("rsgrpc.test.evolution.v2.Sub"), "rsgrpc.test.evolution.v2groups.Record"
    return [
        ("unknown-v2-all", t("rsgrpc.test.evolution.v2.Record")(
            id=7,
            added_string="new field",
            added_fixed64=2**64 - 1,
            added_fixed32=0xDEADBEEF,
            sub=v2_sub(name="sub", added_in_sub=-1),
            added_packed=[-1, 0, 1, -(2**63)],
            added_map={"": 0, "k": -1},
            added_message=v2_sub(name="unknown message", added_in_sub=5),
            added_double=-0.0,
            added_repeated=["a", "", "\u00e7"],
            added_varint=2**64 - 1,
            added_negative=-1,
            added_bytes=b"\x00\xff" * 3,
        )),
        ("unknown-v2-sub-only-unknown", t("rsgrpc.test.evolution.v2.Record")(sub=v2_sub(added_in_sub=123))),
        ("unknown-v2-no-known-field", t("rsgrpc.test.evolution.v2.Record")(
            added_negative=-(2**31), added_bytes=bytes(range(256)) * 4)),
        ("unknown-v2groups-all", t(groups)(
            id=1,
            added=t(groups + ".Added")(a=2, deeper=t(groups + ".Added.Deeper")(s="deep")),
            many=[t(groups + ".Many")(v=-1), t(groups + ".Many")(), t(groups + ".Many")(v=2**63 - 1)],
            sub=t("rsgrpc.test.evolution.v2groups.Sub")(name="s"),
            after=-1,
        )),
        ("unknown-v2groups-empty-groups", t(groups)(
            added=t(groups + ".Added")(deeper=t(groups + ".Added.Deeper")()), many=[t(groups + ".Many")()])),
    ]


# ---------------------------------------------------------------------------------------------------
# gen


def cmd_gen(args):
    """Writes the three corpus files, then proves Python reads back exactly what it wrote."""
    schema = Schema(args.descriptor_set)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    builders = {
        RANDOM_FILE: lambda: random_cases(schema, args.seed, args.count),
        HANDBUILT_FILE: lambda: handbuilt_cases(schema),
        UNKNOWN_FILE: lambda: unknown_cases(schema, args.seed),
    }
    for file_name, build in builders.items():
        started = time.monotonic()
        path = out / file_name
        write_records(path, [(record_name(case_id, m), encode(m)) for case_id, m in build()])
        count = verify_file(schema, path)
        print(f"{path}: {count} records, {path.stat().st_size} bytes, {time.monotonic() - started:.2f}s")
    return 0


def verify_file(schema, path):
    """Each payload must parse as its named type and re-encode to the same bytes; returns the count."""
    records = read_records(path)
    for name, payload in records:
        _, type_name = split_name(name)
        if encode(schema.parse(type_name, payload)) != payload:
            raise AssertionError(f"{path}: {name} does not re-encode to the same bytes")
    return len(records)


# ---------------------------------------------------------------------------------------------------
# Checks


class Tally:
    """Counts results and prints the closing 'N passed, M failed' line that CI logs are read for."""

    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0

    def ok(self, line=None):
        self.passed += 1
        if line:
            print(line)

    def fail(self, case_id, why):
        self.failed += 1
        print(f"FAIL {case_id}: {why}")

    def finish(self):
        """Prints the summary; the exit status is 1 when anything failed."""
        print(f"{self.label}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def load_records(tally, path):
    """Records of path, or None after counting an unreadable file as a failure."""
    try:
        return read_records(path)
    except (OSError, ValueError) as error:
        tally.fail(Path(path).name, f"cannot read: {error}")
        return None


def difference(expected, actual):
    """None when equal; else which fields differ and both messages as text around the first difference.

    `==` compares floats bit for bit under upb, but another backend may treat NaN != NaN, so equal
    deterministic encodings also count as equal. They are compared first: the pure-Python backend's `==`
    unpacks `Any` fields through the default pool, which does not know this test's types.
    """
    if encode(expected) == encode(actual):
        return None
    try:
        if expected == actual:
            return None
    except KeyError:
        pass
    return f"{differing_fields(expected, actual)}; {text_window(expected, actual)}"


def text_window(expected, actual):
    """Both messages in one-line text format, cut to a window that starts just before the first
    character where they differ: a 1 MiB field must not flood the log or hide the difference."""
    left = text_format.MessageToString(expected, as_one_line=True)
    right = text_format.MessageToString(actual, as_one_line=True)
    first = next((i for i, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
    start = max(0, first - TEXT_LIMIT // 4)

    def cut(text):
        prefix = "..." if start else ""
        suffix = "..." if start + TEXT_LIMIT < len(text) else ""
        return f"{prefix}{text[start:start + TEXT_LIMIT]}{suffix} ({len(text)} chars)"

    return f"expected {{{cut(left)}}} got {{{cut(right)}}}"


def differing_fields(expected, actual):
    """Names the top-level fields whose values differ; otherwise the unknown fields must differ."""
    left = {field.name: value for field, value in expected.ListFields()}
    right = {field.name: value for field, value in actual.ListFields()}
    names = sorted(name for name in left.keys() | right.keys() if left.get(name) != right.get(name))
    return f"fields differ: {', '.join(names)}" if names else "unknown fields differ"


def parse_or_describe(schema, type_name, payload):
    """(message, None) or (None, why it does not parse)."""
    try:
        return schema.parse(type_name, payload), None
    except KeyError:
        return None, f"type {type_name!r} is not in the descriptor set"
    except Exception as error:  # usually DecodeError; any error is a finding about the payload, not a crash
        return None, f"{type_name} does not parse: {type(error).__name__}: {error}"


def cmd_check_roundtrip(args):
    """Python's v2 records against the Rust v1 reader's re-encodings of them."""
    schema = Schema(args.descriptor_set)
    tally = Tally("wire roundtrip")
    expected = load_records(tally, Path(args.dir) / UNKNOWN_FILE)
    actual = load_records(tally, Path(args.dir) / ROUNDTRIP_FILE)
    if expected is None or actual is None:
        return tally.finish()
    if len(expected) != len(actual):
        tally.fail(ROUNDTRIP_FILE, f"{len(actual)} records, {UNKNOWN_FILE} has {len(expected)}")
    for (name, reference), (actual_name, payload) in zip(expected, actual):
        case_id, type_name = split_name(name)
        if actual_name != name:
            tally.fail(case_id, f"record name mismatch: {ROUNDTRIP_FILE} has {actual_name!r} for {name!r}")
            continue
        why = roundtrip_problem(schema, type_name, reference, payload)
        if why:
            tally.fail(case_id, why)
        else:
            tally.ok()
    return tally.finish()


def roundtrip_problem(schema, type_name, reference, payload):
    """None if both payloads parse as type_name to equal messages, else what went wrong."""
    original, why = parse_or_describe(schema, type_name, reference)
    if why:
        return f"reference payload: {why}"
    reencoded, why = parse_or_describe(schema, type_name, payload)
    if why:
        return f"rust payload: {why}"
    return difference(original, reencoded)


def cmd_check_encoded(args):
    """Rust's encodings of its hand-built mirrors against Python's own hand-built messages."""
    schema = Schema(args.descriptor_set)
    tally = Tally("wire handbuilt")
    rust_records = load_records(tally, Path(args.dir) / RUST_HANDBUILT_FILE)
    if rust_records is None:
        return tally.finish()
    rust = {}
    for name, payload in rust_records:
        case_id, type_name = split_name(name)
        if case_id in rust:
            tally.fail(case_id, f"appears twice in {RUST_HANDBUILT_FILE}")
        rust[case_id] = (type_name, payload)
    for case_id, message in handbuilt_cases(schema):
        if case_id not in rust:
            tally.fail(case_id, f"missing from {RUST_HANDBUILT_FILE}")
            continue
        type_name, payload = rust.pop(case_id)
        compare_encoded(schema, tally, case_id, message, type_name, payload)
    for case_id in rust:
        tally.fail(case_id, f"in {RUST_HANDBUILT_FILE} but not a Python hand-built case")
    return tally.finish()


def compare_encoded(schema, tally, case_id, message, type_name, payload):
    """Semantic equality decides; byte identity is reported because encoders may legally differ."""
    if type_name != message.DESCRIPTOR.full_name:
        tally.fail(case_id, f"type {type_name}, expected {message.DESCRIPTOR.full_name}")
        return
    parsed, why = parse_or_describe(schema, type_name, payload)
    why = why or difference(message, parsed)
    if why:
        tally.fail(case_id, why)
    else:
        tally.ok(f"ok   {case_id}: equal, {byte_comparison(encode(message), payload)}")


def byte_comparison(python_bytes, rust_bytes):
    """'bytes identical', or the sizes and the first differing offset."""
    if python_bytes == rust_bytes:
        return "bytes identical"
    offset = next((i for i, (a, b) in enumerate(zip(python_bytes, rust_bytes)) if a != b),
                  min(len(python_bytes), len(rust_bytes)))
    sizes = f"python {len(python_bytes)} B, rust {len(rust_bytes)} B"
    return f"bytes differ ({sizes}, first difference at byte {offset})"


# ---------------------------------------------------------------------------------------------------
# Command line


def main(argv=None):
    """Parses the command line and runs the subcommand; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="wire_corpus.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("gen", help="write random.bin, handbuilt.bin and unknown.bin")
    gen.add_argument("--out", required=True, help="directory to write (created if missing)")
    gen.add_argument("--seed", type=int, default=7, help="seed of the random cases (default 7)")
    gen.add_argument("--count", type=int, default=30, help="random messages per type (default 30)")
    gen.set_defaults(run=cmd_gen)
    roundtrip = commands.add_parser("check-roundtrip", help="compare unknown.bin with the Rust roundtrip.bin")
    roundtrip.set_defaults(run=cmd_check_roundtrip)
    encoded = commands.add_parser("check-encoded", help="compare rust_handbuilt.bin with the Python cases")
    encoded.set_defaults(run=cmd_check_encoded)
    for command in (roundtrip, encoded):
        command.add_argument("--dir", required=True, help="directory holding the record files")
    for command in (gen, roundtrip, encoded):
        command.add_argument("--descriptor-set", required=True, help="FileDescriptorSet with all imports")
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
