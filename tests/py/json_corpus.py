#!/usr/bin/env python3
"""JSON-compatibility corpus: Python protobuf's json_format as the independent reference for rsgrpc's proto3
JSON mapping. Values are compared after parsing, never as text: both sides may print the same value
differently (key order, white space, escapes, `1e+300` or `1e300`).

Builds on wire_corpus.py (same directory): its Schema, random Filler and record files; see that file for
the setup and the record format. Made with protobuf 7.36.2.

Run gen under the pure-Python backend (PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python): the bytes it packs
in Any fields are its deterministic encoding, which sorts map entries by key as rsgrpc's encoder does, so
rsgrpc can compare Any fields by their bytes. upb's deterministic encoding does not sort them (integer keys
come in descending order, and a string key after the longer keys it is a prefix of). check runs under
either backend: it compares the contents of Any fields, not their bytes.

Protocol:
  gen --descriptor-set FDS --out DIR
        writes DIR/json_messages.bin: random messages of every type of wire_corpus's random corpus (case
        ids json-<type-index>-<i>), PAYLOAD their deterministic binary encoding; and DIR/json_python.bin:
        the same names, PAYLOAD json_format.MessageToJson(message) with default options, as UTF-8.
  (Rust test)
        parses each json_python.bin text with rsgrpc and compares it with the binary message; decodes
        each json_messages.bin payload with rsgrpc, writes it as JSON with default options and writes
        DIR/json_rust.bin: the same names in the same order, PAYLOAD that JSON text.
  check --descriptor-set FDS --dir DIR
        parses each json_rust.bin text with json_format.Parse and compares it with the json_messages.bin
        message. Prints one FAIL line per failure and closes with "json python: N passed, M failed";
        exits 1 on any failure, records that do not line up included.

A record whose rsgrpc JSON Python refuses, when Python refuses its own JSON of the same message with the
same error, is a limitation of Python's parser that no other writer could get past (json_format prints
float32 max as 3.4028235e+38 and then finds it above float32 max). Such records are listed on SKIP lines
and counted on a line of their own, "json python: K skipped (Python refuses its own JSON too)", before the
closing line; they are neither passed nor failed.
"""

import argparse
import math
import random
import sys
import time
from pathlib import Path

from google.protobuf import json_format

import wire_corpus
from wire_corpus import MAX_DEPTH, Filler, Schema, Tally, encode, record_name, split_name

MESSAGES_FILE = "json_messages.bin"
PYTHON_FILE = "json_python.bin"
RUST_FILE = "json_rust.bin"

TYPE_URL_PREFIX = "type.googleapis.com/"
ANY = "google.protobuf.Any"
VALUE = "google.protobuf.Value"
NULL_VALUE = "google.protobuf.NullValue"
TEXT_LIMIT = 300

# Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; Duration: about +-10,000 years.
TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
DURATION_SECONDS = 315_576_000_000
NANOS = 1_000_000_000


# ---------------------------------------------------------------------------------------------------
# Random messages with JSON forms


class JsonFiller(Filler):
    """wire_corpus's Filler restricted to messages that have a proto3 JSON form.

    The wire filler's values are all valid on the wire but not all have a JSON form: well-known types get
    arbitrary field values there (a Timestamp in year 300,000, an Any of random bytes). Here they get valid
    ones, as varied as the JSON form allows. Extensions are left out: rsgrpc keeps them as unknown fields,
    which have no JSON form in any implementation. Every other field kind, edge values included (NaN,
    infinities, -0.0, undeclared open enum values, 1- to 4-byte UTF-8), is filled as for the wire corpus.
    """

    def __init__(self, rng, schema, any_types):
        super().__init__(rng, schema.pool)
        self.schema = schema
        self.any_types = any_types
        self.well_known = {
            "google.protobuf.Timestamp": self._timestamp,
            "google.protobuf.Duration": self._duration,
            "google.protobuf.FieldMask": self._field_mask,
            "google.protobuf.Struct": self._struct,
            "google.protobuf.ListValue": self._list_value,
            VALUE: self._value,
            ANY: self._any,
        }

    def fill(self, message, depth=0):
        """Well-known types with a special JSON form by hand, the others by reflection."""
        special = self.well_known.get(message.DESCRIPTOR.full_name)
        if special:
            special(message, depth)
        else:
            super().fill(message, depth)

    def extensions(self, descriptor):
        """None: see the class comment."""
        return []

    def fill_map_value(self, value, depth):
        """A Value must hold a kind (an empty one has no JSON form); other map values may stay empty."""
        if value.DESCRIPTOR.full_name == VALUE:
            self._value(value, depth)
        else:
            super().fill_map_value(value, depth)

    def _enum(self, enum):
        """NullValue has one value: JSON `null` cannot carry another number."""
        return 0 if enum.full_name == NULL_VALUE else super()._enum(enum)

    def _timestamp(self, message, depth):
        """The range's ends a fifth of the time; nanos with 0, 3, 6 or 9 significant fractional digits."""
        low, high = TIMESTAMP_SECONDS
        edge = self.rng.random() < 0.2
        message.seconds = self.rng.choice((low, high, 0, -1)) if edge else self.rng.randint(low, high)
        message.nanos = self._nanos()

    def _duration(self, message, depth):
        """Seconds and nanos of one sign (either may be zero), up to the range's ends."""
        edge = self.rng.random() < 0.3
        seconds = self.rng.choice((0, DURATION_SECONDS)) if edge else self.rng.randint(0, DURATION_SECONDS)
        nanos = self._nanos()
        sign = self.rng.choice((-1, 1))
        message.seconds = sign * seconds
        message.nanos = sign * nanos

    def _nanos(self):
        """0, or nanos that print with 3, 6 or 9 fractional digits."""
        unit = self.rng.choice((0, 1_000_000, 1_000, 1))
        return self.rng.randrange(0, NANOS, unit) if unit else 0

    def _field_mask(self, message, depth):
        """Paths of lowercase snake_case names: only those have a lowerCamelCase JSON form."""
        for _ in range(self._length(3)):
            message.paths.append(".".join(self._snake_name() for _ in range(self.rng.randint(1, 3))))

    def _snake_name(self):
        """Words of a lowercase letter and up to 5 lowercase letters or digits, joined by `_`."""
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        words = (self.rng.choice(alphabet[:26]) + "".join(self.rng.choices(alphabet, k=self.rng.randint(0, 5)))
                 for _ in range(self.rng.randint(1, 3)))
        return "_".join(words)

    def _struct(self, message, depth):
        """0..4 fields with any string keys; nested Values only above the depth limit."""
        for _ in range(self._length(4) if depth < MAX_DEPTH else 0):
            self._value(message.fields[self._string()], depth + 1)

    def _list_value(self, message, depth):
        """0..4 Values; nested Values only above the depth limit."""
        for _ in range(self._length(4) if depth < MAX_DEPTH else 0):
            self._value(message.values.add(), depth + 1)

    def _value(self, message, depth):
        """Always a kind; numbers finite (JSON has no NaN or Infinity numbers, and "NaN" is a string)."""
        kinds = ["null", "number", "string", "bool"] + (["struct", "list"] if depth < MAX_DEPTH else [])
        kind = self.rng.choice(kinds)
        if kind == "null":
            message.null_value = 0
        elif kind == "number":
            message.number_value = self._finite_double()
        elif kind == "string":
            message.string_value = self._string()
        elif kind == "bool":
            message.bool_value = self.rng.random() < 0.5
        elif kind == "struct":
            message.struct_value.SetInParent()  # an empty one is a kind too
            self._struct(message.struct_value, depth)
        else:
            message.list_value.SetInParent()
            self._list_value(message.list_value, depth)

    def _finite_double(self):
        """A random double from the wire filler's distribution, redrawn until finite."""
        while True:
            value = self._double()
            if math.isfinite(value):
                return value

    def _any(self, message, depth):
        """Empty one time in ten (JSON `{}`), else a random message of a packable type, with its URL."""
        if self.rng.random() < 0.1:
            return
        type_name = self.rng.choice(self.rng.choice(self.any_types))
        inner = self.schema.message_class(type_name)()
        self.fill(inner, depth + 1)
        message.type_url = TYPE_URL_PREFIX + type_name
        message.value = encode(inner)


def any_types(schema):
    """Full names of the types an Any may hold, as (the well-known types, the corpus types): an Any picks one
    of the two lists, then a type, so that each well-known type, special JSON form or not, is packed a few
    times among the many corpus types."""
    google_files = [f for f in schema.files if f.package == "google.protobuf"]
    google = [f"{f.package}.{message.name}" for f in google_files for message in f.message_type]
    return google, [descriptor.full_name for descriptor in schema.corpus_types()]


def json_cases(schema, seed, count):
    """count random messages per corpus type, each type with its own generator (as in wire_corpus)."""
    packable = any_types(schema)
    cases = []
    for index, descriptor in enumerate(schema.corpus_types()):
        filler = JsonFiller(random.Random(f"{seed}/json/{descriptor.full_name}"), schema, packable)
        message_class = schema.message_class(descriptor.full_name)
        for i in range(count):
            message = message_class()
            filler.fill(message)
            cases.append((f"json-{index}-{i}", message))
    return cases


# ---------------------------------------------------------------------------------------------------
# gen


def to_json(schema, message):
    """Python's JSON of message with default options; the pool resolves the type URLs of Any fields."""
    return json_format.MessageToJson(message, descriptor_pool=schema.pool)


def cmd_gen(args):
    """Writes the binary and the JSON form of every case, under the same names in the same order."""
    started = time.monotonic()
    schema = Schema(args.descriptor_set)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = [(record_name(case_id, m), m) for case_id, m in json_cases(schema, args.seed, args.count)]
    wire_corpus.write_records(out / MESSAGES_FILE, [(name, encode(message)) for name, message in cases])
    texts = [(name, to_json(schema, message).encode("utf-8")) for name, message in cases]
    wire_corpus.write_records(out / PYTHON_FILE, texts)
    size = sum(len(text) for _, text in texts)
    print(f"{out}: {len(cases)} records, {size} bytes of JSON, {time.monotonic() - started:.2f}s")
    return 0


# ---------------------------------------------------------------------------------------------------
# check


class JsonTally(Tally):
    """A Tally that also counts records skipped because Python cannot read its own JSON of them."""

    def __init__(self, label):
        super().__init__(label)
        self.skipped = 0

    def skip(self, case_id, why):
        self.skipped += 1
        print(f"SKIP {case_id}: {why}")

    def finish(self):
        if self.skipped:
            print(f"{self.label}: {self.skipped} skipped (Python refuses its own JSON too)")
        return super().finish()


def cmd_check(args):
    """rsgrpc's JSON of each message, parsed by Python, against the message itself."""
    schema = Schema(args.descriptor_set)
    tally = JsonTally("json python")
    names = (MESSAGES_FILE, PYTHON_FILE, RUST_FILE)
    files = [wire_corpus.load_records(tally, Path(args.dir) / name) for name in names]
    if None in files:
        return tally.finish()
    messages, python, rust = files
    if not len(messages) == len(python) == len(rust):
        counts = f"{len(rust)} records, {MESSAGES_FILE} has {len(messages)}, {PYTHON_FILE} {len(python)}"
        tally.fail(RUST_FILE, counts)
    for (name, payload), (python_name, python_text), (rust_name, rust_text) in zip(messages, python, rust):
        case_id, type_name = split_name(name)
        if python_name != name or rust_name != name:
            names = f"{name!r}, {python_name!r} in {PYTHON_FILE}, {rust_name!r} in {RUST_FILE}"
            tally.fail(case_id, f"record name mismatch: {names}")
            continue
        check_case(schema, tally, case_id, schema.parse(type_name, payload), python_text, rust_text)
    return tally.finish()


def check_case(schema, tally, case_id, expected, python_text, rust_text):
    """Passes if Python parses rsgrpc's text to expected; skips if Python refuses its own text likewise."""
    type_name = expected.DESCRIPTOR.full_name
    texts = f"rust json {cut(rust_text)} python json {cut(python_text)}"
    parsed, error = parse_json(schema, type_name, rust_text)
    if error:
        _, own_error = parse_json(schema, type_name, python_text)
        if own_error == error:
            tally.skip(case_id, f"{type_name}: {error}")
        else:
            tally.fail(case_id, f"{type_name}: Python refuses rsgrpc's JSON: {error}; {texts}")
        return
    why = wire_corpus.difference(canonical(schema, expected), canonical(schema, parsed))
    if why:
        tally.fail(case_id, f"{type_name}: parses to another message: {why}; {texts}")
    else:
        tally.ok()


def parse_json(schema, type_name, text):
    """(message, None), or (None, Python's reason for refusing the JSON text)."""
    try:
        message = schema.message_class(type_name)()
        return json_format.Parse(text.decode("utf-8"), message, descriptor_pool=schema.pool), None
    except Exception as error:  # usually ParseError; any error is a finding about the text, not a crash
        return None, f"{type(error).__name__}: {error}"


def cut(text):
    """A JSON text on one line, cut to TEXT_LIMIT characters."""
    line = " ".join(text.decode("utf-8", "replace").split())
    return f"{{{line[:TEXT_LIMIT]}{'...' if len(line) > TEXT_LIMIT else ''} ({len(line)} chars)}}"


def canonical(schema, message):
    """A copy of message whose Any fields, at any depth, hold the deterministic encoding of their content.

    An Any holds bytes, and Python's parser packs them with the non-deterministic encoding, whose map order
    differs from the original's: equal contents must compare equal.
    """
    copy = type(message)()
    copy.CopyFrom(message)
    _canonicalize(schema, copy)
    return copy


def _canonicalize(schema, message):
    if message.DESCRIPTOR.full_name == ANY and message.type_url:
        content = schema.parse(message.type_url.rpartition("/")[2], message.value)
        _canonicalize(schema, content)
        message.value = encode(content)
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if wire_corpus.is_map(field):
            values = value.values() if wire_corpus.holds_messages(field) else ()
        else:
            values = value if field.is_repeated else (value,)
        for child in values:
            _canonicalize(schema, child)


# ---------------------------------------------------------------------------------------------------
# Command line


def main(argv=None):
    """Parses the command line and runs the subcommand; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="json_corpus.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("gen", help=f"write {MESSAGES_FILE} and {PYTHON_FILE}")
    gen.add_argument("--out", required=True, help="directory to write (created if missing)")
    gen.add_argument("--seed", type=int, default=7, help="seed of the random cases (default 7)")
    gen.add_argument("--count", type=int, default=30, help="random messages per type (default 30)")
    gen.set_defaults(run=cmd_gen)
    check = commands.add_parser("check", help=f"parse the Rust {RUST_FILE} and compare with {MESSAGES_FILE}")
    check.add_argument("--dir", required=True, help="directory holding the record files")
    check.set_defaults(run=cmd_check)
    for command in (gen, check):
        command.add_argument("--descriptor-set", required=True, help="FileDescriptorSet with all imports")
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
