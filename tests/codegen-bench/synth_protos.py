#!/usr/bin/env python3
"""Write a synthetic, deterministic proto3 corpus for the code generation benchmark (issue 18).

    python3 synth_protos.py DIR [--files 400] [--packages 40]

DIR/acme/<domain>/v1/<topic>.proto, include path DIR. With the defaults: 400 files in 40 packages, 5,600
messages (nested ones included, map entries not), 800 enums, 400 services with 2,000 RPCs (1,600 unary,
the rest server-, client- and bidi-streaming in turn). Every file has doc comments on its messages, fields,
enums, services and RPCs, nested messages and enums, oneofs, maps, repeated fields, proto3 `optional`,
well-known types (Timestamp, Duration, Any, Struct, Value, wrappers, FieldMask, Empty), an import of the
previous file of its package and, for half the files, of a file in an earlier package. Imports only point
to earlier files, so there are no cycles.

The same arguments always give the same bytes: the only randomness is a `random.Random` with a fixed seed,
used through `random()` alone (whose sequence Python keeps stable across versions).
"""

import argparse
import os
import random
import sys

DOMAINS = """billing catalog inventory shipping payments identity accounts orders pricing search reviews
messaging notifications analytics reporting scheduling calendar storage media streaming ledger tax
compliance audit support ticketing loyalty marketing campaigns fulfillment warehouse procurement
suppliers contracts documents workflow iam geo fleet telemetry""".split()

TOPICS = """invoice product stock parcel charge credential profile order quote query review thread alert
metric report slot event blob asset session entry filing policy record case ticket reward segment
campaign pick bin purchase vendor agreement document task role place vehicle signal device coupon
address""".split()

SCALARS = ["int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed64",
           "bool", "string", "bytes", "double", "float"]

WRAPPERS = ["StringValue", "Int64Value", "Int32Value", "BoolValue", "DoubleValue", "UInt32Value",
            "BytesValue", "FloatValue", "UInt64Value"]

WORDS = """the a customer backend server client request current previous total primary secondary
external internal display retry region tenant batch owner parent child revision cached stored computed
requested effective expected observed""".split()

ADJECTIVES = ["open", "closed", "pending", "active", "archived", "failed", "ready", "paused"]


class Rng:
    """A seeded `random.Random`, used only through `random()`."""

    def __init__(self, seed):
        self.inner = random.Random(seed)

    def below(self, n):
        return min(int(self.inner.random() * n), n - 1)

    def pick(self, items):
        return items[self.below(len(items))]

    def chance(self, p):
        return self.inner.random() < p


def camel(word):
    return "".join(part[:1].upper() + part[1:] for part in word.split("_"))


def upper_snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0:
            out.append("_")
        out.append(ch.upper())
    return "".join(out)


def plural(word):
    if word.endswith(("s", "x")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def names(base, count):
    """`count` distinct names from `base`, numbered once the list runs out."""
    out = []
    for i in range(count):
        name = base[i % len(base)]
        out.append(name if i < len(base) else f"{name}{i // len(base) + 1}")
    return out


class Writer:
    def __init__(self, rng):
        self.rng = rng
        self.lines = []
        self.counts = {"messages": 0, "enums": 0, "fields": 0}

    def line(self, indent, text=""):
        self.lines.append(("  " * indent + text) if text else "")

    def doc(self, indent, subject):
        """A leading comment, one to three lines, about `subject`."""
        rng = self.rng
        first = f"{subject[:1].upper()}{subject[1:]}."
        self.line(indent, f"// {first}")
        if rng.chance(0.45):
            self.line(indent, f"// Set by the {rng.pick(WORDS)} {rng.pick(WORDS)}; "
                              f"see the {rng.pick(WORDS)} documentation for the {rng.pick(ADJECTIVES)} case.")
        if rng.chance(0.15):
            self.line(indent, "//")
            self.line(indent, f"// Deprecated values are kept for {rng.pick(WORDS)} clients.")

    def field(self, indent, type_name, name, number, subject, label="", options=""):
        self.counts["fields"] += 1
        if self.rng.chance(0.85):
            self.doc(indent, subject)
        label = f"{label} " if label else ""
        trailing = f"  // {self.rng.pick(WORDS)} {self.rng.pick(WORDS)}" if self.rng.chance(0.1) else ""
        self.line(indent, f"{label}{type_name} {name} = {number}{options};{trailing}")

    def enum(self, indent, name, prefix, subject):
        self.counts["enums"] += 1
        self.doc(indent, subject)
        self.line(indent, f"enum {name} {{")
        self.line(indent + 1, f"{prefix}_UNSPECIFIED = 0;")
        count = 3 + self.rng.below(5)
        for i, value in enumerate(ADJECTIVES[:count]):
            if self.rng.chance(0.6):
                self.doc(indent + 1, f"the {value} state")
            deprecated = " [deprecated = true]" if i == count - 1 and self.rng.chance(0.2) else ""
            self.line(indent + 1, f"{prefix}_{value.upper()} = {i + 1}{deprecated};")
        self.line(indent, "}")

    def extra_scalars(self, indent, start, low, high):
        """Between `low` and `high` plain scalar fields numbered from `start`; returns the next number."""
        number = start
        for _ in range(low + self.rng.below(high - low + 1)):
            kind = self.rng.pick(SCALARS)
            name = f"{self.rng.pick(WORDS)}_{kind}_{number}"
            label = "repeated" if self.rng.chance(0.15) else ("optional" if self.rng.chance(0.1) else "")
            options = " [deprecated = true]" if self.rng.chance(0.05) else ""
            self.field(indent, kind, name, number, f"the {name.replace('_', ' ')}", label, options)
            number += 1
        return number


def file_text(rng, package, topic, index, previous, foreign):
    """One .proto file. `previous` and `foreign`: (import path, package, topic) of earlier files, or None."""
    T = camel(topic)
    Ts = camel(plural(topic))
    w = Writer(rng)
    wkt = ["any", "duration", "empty", "field_mask", "struct", "timestamp", "wrappers"]
    w.line(0, f"// {T} records of the {package} API (synthetic benchmark corpus, file {index}).")
    w.line(0, 'syntax = "proto3";')
    w.line(0)
    w.line(0, f"package {package};")
    w.line(0)
    for name in wkt:
        w.line(0, f'import "google/protobuf/{name}.proto";')
    for other in (previous, foreign):
        if other:
            w.line(0, f'import "{other[0]}";')
    w.line(0)

    # The main entity: nested message two deep, a nested enum, oneof, maps, WKTs, optional, cross-file.
    w.counts["messages"] += 3
    w.doc(0, f"a {topic} as the {package} service stores it")
    w.line(0, f"message {T} {{")
    w.enum(1, "State", "STATE", f"the lifecycle state of a {topic}")
    w.line(0)
    w.doc(1, f"a named attribute of a {topic}")
    w.line(1, "message Attribute {")
    w.doc(2, "where an attribute came from")
    w.line(2, "message Source {")
    w.field(3, "string", "system", 1, "the system that set the attribute")
    w.field(3, "google.protobuf.Timestamp", "observe_time", 2, "when the attribute was observed")
    w.line(2, "}")
    w.field(2, "string", "key", 1, "the attribute key")
    w.field(2, "google.protobuf.Value", "value", 2, "the attribute value")
    w.field(2, "Source", "source", 3, "where the value came from")
    w.field(2, "string", "notes", 4, "free-form notes", label="repeated")
    w.line(1, "}")
    w.line(0)
    w.field(1, "string", "name", 1, f"the resource name, `{plural(topic)}/{{id}}`")
    w.field(1, "string", "display_name", 2, "a human-readable name")
    w.field(1, "State", "state", 3, f"the state of the {topic}")
    w.field(1, f"{T}Kind", "kind", 4, f"the kind of {topic}")
    w.field(1, "google.protobuf.Timestamp", "create_time", 5, "when it was created")
    w.field(1, "google.protobuf.Timestamp", "update_time", 6, "when it last changed")
    w.field(1, "google.protobuf.Duration", "retention", 7, "how long it is kept after deletion")
    w.field(1, "map<string, string>", "labels", 8, "user-defined labels")
    w.field(1, "map<string, Attribute>", "attributes", 9, "attributes by key")
    w.field(1, "Attribute", "history", 10, "attribute changes, oldest first", label="repeated")
    w.field(1, "google.protobuf.Any", "details", 11, "service-specific details")
    w.field(1, "google.protobuf.Struct", "metadata", 12, "arbitrary JSON metadata")
    w.field(1, f"google.protobuf.{rng.pick(WRAPPERS)}", "external_ref", 13, "a reference in another system")
    w.field(1, "string", "etag", 14, "the entity tag for optimistic concurrency", label="optional")
    w.field(1, "int64", "version", 15, "the revision number", label="optional")
    w.field(1, "string", "tags", 16, "search tags", label="repeated")
    w.field(1, "int64", "sizes", 17, "sizes of the parts in bytes", label="repeated")
    w.doc(1, f"who owns the {topic}")
    w.line(1, "oneof owner {")
    w.field(2, "string", "user_id", 20, "a user")
    w.field(2, "string", "group_id", 21, "a group")
    w.field(2, f"{T}Summary", "parent", 22, f"the parent {topic}")
    w.line(1, "}")
    number = 23
    if previous:
        w.field(1, f"{camel(previous[2])}Summary", f"related_{previous[2]}", number,
                f"the related {previous[2]} (defined in another file)")
        w.field(1, f"{camel(previous[2])}Kind", f"related_{previous[2]}_kind", number + 1,
                f"the kind of the related {previous[2]}")
        number += 2
    if foreign:
        w.field(1, f"{foreign[1]}.{camel(foreign[2])}Summary", f"linked_{foreign[2]}", number,
                f"the linked {foreign[2]} in {foreign[1]} (defined in another package)")
        w.field(1, f"map<int64, {foreign[1]}.{camel(foreign[2])}>", f"linked_{plural(foreign[2])}", number + 1,
                f"linked {plural(foreign[2])} by id")
        number += 2
    number = w.extra_scalars(1, number, 1, 5)
    if rng.chance(0.5):
        w.line(1, f"reserved {number + 10} to {number + 20};")
    w.line(0, "}")
    w.line(0)

    w.enum(0, f"{T}Kind", upper_snake(f"{T}Kind"), f"the kinds of {topic}")
    w.line(0)

    w.counts["messages"] += 1
    w.doc(0, f"the fields of a {topic} that lists show")
    w.line(0, f"message {T}Summary {{")
    w.field(1, "string", "name", 1, "the resource name")
    w.field(1, "string", "display_name", 2, "a human-readable name")
    w.field(1, f"{T}.State", "state", 3, "the state")
    w.field(1, "google.protobuf.Timestamp", "update_time", 4, "when it last changed")
    w.extra_scalars(1, 5, 0, 3)
    w.line(0, "}")
    w.line(0)

    w.counts["messages"] += 2
    w.doc(0, f"a change to a {topic}")
    w.line(0, f"message {T}Event {{")
    w.doc(1, "one changed field")
    w.line(1, "message Change {")
    w.field(2, "string", "path", 1, "the field path")
    w.field(2, "google.protobuf.Value", "old_value", 2, "the value before")
    w.field(2, "google.protobuf.Value", "new_value", 3, "the value after")
    w.line(1, "}")
    w.field(1, "string", "event_id", 1, "a unique id")
    w.field(1, "google.protobuf.Timestamp", "event_time", 2, "when it happened")
    w.doc(1, "what happened")
    w.line(1, "oneof payload {")
    w.field(2, T, "created", 3, f"a {topic} was created")
    w.field(2, T, "updated", 4, f"a {topic} was updated")
    w.field(2, "string", "deleted_name", 5, f"a {topic} was deleted")
    w.field(2, "google.protobuf.Empty", "heartbeat", 6, "nothing changed")
    w.line(1, "}")
    w.field(1, "Change", "changes", 7, "the changed fields", label="repeated")
    w.line(0, "}")
    w.line(0)

    w.counts["messages"] += 1
    w.doc(0, f"which {plural(topic)} a list or watch returns")
    w.line(0, f"message {T}Filter {{")
    w.field(1, f"{T}.State", "states", 1, "only these states", label="repeated")
    w.field(1, f"{T}Kind", "kinds", 2, "only these kinds", label="repeated")
    w.field(1, "google.protobuf.Timestamp", "updated_after", 3, "only those changed after this time")
    w.field(1, "string", "query", 4, "a search expression", label="optional")
    w.line(0, "}")
    w.line(0)

    def request(name, fields):
        w.counts["messages"] += 1
        role = "response" if name.endswith("Response") else "request"
        w.doc(0, f"the {role} of {name.removesuffix('Request').removesuffix('Response')}")
        w.line(0, f"message {name} {{")
        for i, (type_name, field_name, label) in enumerate(fields):
            w.field(1, type_name, field_name, i + 1, f"the {field_name.replace('_', ' ')}", label)
        w.extra_scalars(1, len(fields) + 1, 0, 2)
        w.line(0, "}")
        w.line(0)

    request(f"Get{T}Request", [("string", "name", ""), ("google.protobuf.FieldMask", "read_mask", "")])
    request(f"List{Ts}Request", [("string", "parent", ""), ("int32", "page_size", ""), ("string", "page_token", ""),
                                 (f"{T}Filter", "filter", ""), ("string", "order_by", "optional")])
    request(f"List{Ts}Response", [(f"{T}Summary", plural(topic), "repeated"), ("string", "next_page_token", ""),
                                  ("google.protobuf.Int32Value", "total_size", "")])
    request(f"Update{T}Request", [(T, topic, ""), ("google.protobuf.FieldMask", "update_mask", ""),
                                  ("bool", "allow_missing", "")])
    request(f"Delete{T}Request", [("string", "name", ""), ("string", "etag", "optional"), ("bool", "force", "")])

    kind = index % 3
    if kind == 0:
        verb, stream_in, stream_out = "Watch", False, True
        request(f"Watch{Ts}Request", [("string", "parent", ""), (f"{T}Filter", "filter", ""),
                                      ("google.protobuf.Timestamp", "start_time", "")])
        request(f"Watch{Ts}Response", [(f"{T}Event", "events", "repeated"), ("bool", "resync", "")])
    elif kind == 1:
        verb, stream_in, stream_out = "Import", True, False
        request(f"Import{Ts}Request", [(T, topic, ""), ("bool", "validate_only", "")])
        request(f"Import{Ts}Response", [("int64", "imported_count", ""), ("string", "failed_names", "repeated"),
                                        ("google.protobuf.Duration", "elapsed", "")])
    else:
        verb, stream_in, stream_out = "Sync", True, True
        request(f"Sync{Ts}Request", [(f"{T}Event", "event", ""), ("string", "cursor", "")])
        request(f"Sync{Ts}Response", [(f"{T}Event", "event", ""), ("string", "cursor", ""),
                                      ("google.protobuf.Timestamp", "server_time", "")])

    w.doc(0, f"manages {plural(topic)}")
    w.line(0, f"service {T}Service {{")
    rpcs = [
        (f"Get{T}", f"Get{T}Request", T, False, False, f"returns one {topic}"),
        (f"List{Ts}", f"List{Ts}Request", f"List{Ts}Response", False, False, f"lists {plural(topic)}, a page at a time"),
        (f"Update{T}", f"Update{T}Request", T, False, False, f"changes the fields of a {topic} the mask names"),
        (f"Delete{T}", f"Delete{T}Request", "google.protobuf.Empty", False, False, f"deletes a {topic}"),
        (f"{verb}{Ts}", f"{verb}{Ts}Request", f"{verb}{Ts}Response", stream_in, stream_out,
         f"{ {'Watch': 'watches', 'Import': 'imports', 'Sync': 'syncs'}[verb]} {plural(topic)} as a stream"),
    ]
    for name, req, resp, s_in, s_out, subject in rpcs:
        w.doc(1, subject)
        req = f"stream {req}" if s_in else req
        resp = f"stream {resp}" if s_out else resp
        w.line(1, f"rpc {name}({req}) returns ({resp});")
    w.line(0, "}")
    return "\n".join(w.lines) + "\n", w.counts, len(rpcs), (stream_in, stream_out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--packages", type=int, default=40)
    args = parser.parse_args()
    if args.packages < 1 or args.files < args.packages:
        sys.exit("need at least one package and at least one file per package")
    per_package = args.files // args.packages
    rng = Rng(18)
    domains = names(DOMAINS, args.packages)
    totals = {"files": 0, "messages": 0, "enums": 0, "fields": 0, "services": 0, "rpcs": 0,
              "unary": 0, "server_streaming": 0, "client_streaming": 0, "bidi_streaming": 0}
    layout = []  # per package: (package, [(path, topic)])
    for p, domain in enumerate(domains):
        package = f"acme.{domain}.v1"
        topics = names(TOPICS[p % len(TOPICS):] + TOPICS[:p % len(TOPICS)], per_package)
        layout.append((package, [(f"acme/{domain}/v1/{topic}.proto", topic) for topic in topics]))
    for p, (package, files) in enumerate(layout):
        for j, (path, topic) in enumerate(files):
            previous = (files[j - 1][0], package, files[j - 1][1]) if j > 0 else None
            foreign = None
            if p > 0 and j % 2 == 0:
                q = (p * 7 + j) % p
                other_package, other_files = layout[q]
                other_path, other_topic = other_files[(j * 3 + p) % len(other_files)]
                foreign = (other_path, other_package, other_topic)
            text, counts, rpcs, shape = file_text(rng, package, topic, p * per_package + j, previous, foreign)
            full = os.path.join(args.dir, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            totals["files"] += 1
            totals["services"] += 1
            totals["rpcs"] += rpcs
            totals["unary"] += rpcs - 1
            totals[{(False, True): "server_streaming", (True, False): "client_streaming",
                    (True, True): "bidi_streaming"}[shape]] += 1
            for key, value in counts.items():
                totals[key] += value
    print(" ".join(f"{key}={value}" for key, value in totals.items()))


if __name__ == "__main__":
    main()
