#!/usr/bin/env python3
"""The tables of measure.sh (code generation benchmark, issue 18), from OUT_DIR/{runs,outputs}.tsv.

    python3 report.py OUT_DIR
    python3 report.py --check-response RESPONSE.bin GEN_DIR   (prints one line about a CodeGeneratorResponse)
"""

import os
import statistics
import sys


def varint(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def fields(data):
    """(number, wire type, value) of each top-level field: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        tag, pos = varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 2:
            length, pos = varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"unexpected wire type {wire}")
        yield number, wire, value


def check_response(path, gen_dir):
    """CodeGeneratorResponse: 1 error, 15 file { 1 name, 15 content }."""
    with open(path, "rb") as f:
        data = f.read()
    error, files, content = None, 0, 0
    for number, _, value in fields(data):
        if number == 1:
            error = value.decode("utf-8", "replace")
        elif number == 15:
            files += 1
            content += sum(len(v) for n, _, v in fields(value) if n == 15)
    on_disk = sum(os.path.getsize(os.path.join(root, name))
                  for root, _, names in os.walk(gen_dir) for name in names)
    name = os.path.basename(path)
    if error is not None:
        print(f"{name}: ERROR from the plugin: {error}")
    elif content != on_disk:
        print(f"{name}: {files} files, {content} bytes; the protoc route wrote {on_disk} bytes (DIFFERENT)")
    else:
        print(f"{name}: {files} files, {content} bytes, as the protoc route wrote")


def load(out):
    runs, outputs = {}, {}
    with open(os.path.join(out, "runs.tsv")) as f:
        for line in f:
            key, cpu, rss = line.split("\t")
            runs.setdefault(key, []).append((float(cpu), int(rss)))
    with open(os.path.join(out, "outputs.tsv")) as f:
        for line in f:
            key, size, lines, files = line.split("\t")
            outputs[key] = (int(size), int(lines), int(files))
    return runs, outputs


def median(runs, key):
    """(median CPU seconds, median peak RSS MiB, number of runs), or None when not measured."""
    if key not in runs:
        return None
    cpu = statistics.median(c for c, _ in runs[key])
    rss = statistics.median(r for _, r in runs[key]) / 1024
    return cpu, rss, len(runs[key])


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def generation_table(runs, outputs):
    parse, tonic = median(runs, "parse"), median(runs, "tonic")
    # tonic's row with protoc's parse: the two CPU times added, the larger of the two peaks (sequential).
    tonic_total = (parse[0] + tonic[0], max(parse[1], tonic[1]), tonic[2]) if parse and tonic else None
    rows = [
        ("protoc parse alone (`.proto` -> descriptor set with source info)", "parse", None, None),
        ("tonic-prost-build `compile_fds` (descriptor set -> code)", "tonic", None, "tonic"),
        ("tonic-prost-build + protoc parse (sum of the two rows above)", None, tonic_total, "tonic"),
        ("ours `json=false`: protoc parse + plugin", "ours-nojson-protoc", "with", "ours-nojson"),
        ("ours `json=false`: plugin alone", "ours-nojson-plugin", "alone", "ours-nojson"),
        ("ours JSON on: protoc parse + plugin", "ours-json-protoc", "with", "ours-json"),
        ("ours JSON on: plugin alone", "ours-json-plugin", "alone", "ours-json"),
        ("ours `generate` (embedded parser, `json=false`)", "ours-generate", "with", "ours-generate"),
    ]
    print("| generation | CPU s | CPU s, all runs | peak RSS MiB | CPU / tonic | peak / tonic | output MB "
          "| output lines |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for label, key, against, output in rows:
        m = median(runs, key) if key else against
        if m is None:
            continue
        base = {"with": tonic_total, "alone": tonic}.get(against) if isinstance(against, str) else None
        cpu_ratio = ratio(m[0], base[0]) if base else ""
        rss_ratio = ratio(m[1], base[1]) if base else ""
        size = f"{outputs[output][0] / 1e6:.1f}" if output in outputs else ""
        lines = f"{outputs[output][1] / 1e6:.3f} M" if output in outputs else ""
        spread = " ".join(f"{c:.2f}" for c, _ in runs[key]) if key else ""
        print(f"| {label} | {m[0]:.2f} | {spread} | {m[1]:.0f} | {cpu_ratio} | {rss_ratio} | {size} | {lines} |")
    counts = sorted({len(v) for k, v in runs.items() if not k.startswith(("check-", "release-"))})
    print(f"\nMedians of {' or '.join(map(str, counts))} runs. Ratios: \"protoc parse + plugin\" and `generate` "
          "against tonic + protoc parse; \"plugin alone\" against tonic alone.")


def compile_table(runs, outputs):
    print("\n| generated crate | `cargo check` CPU s | check peak RSS MiB | CPU / tonic | peak / tonic "
          "| `cargo build --release` CPU s | release peak RSS MiB | CPU / tonic | peak / tonic |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    labels = {"ours-nojson": "ours `json=false`", "ours-json": "ours JSON on", "tonic": "tonic-prost-build"}
    for side, label in labels.items():
        cells = []
        for mode in ("check", "release"):
            m, base = median(runs, f"{mode}-{side}"), median(runs, f"{mode}-tonic")
            if m is None:
                cells += ["not measured", "", "", ""]
            else:
                cells += [f"{m[0]:.1f}", f"{m[1]:.0f}", ratio(m[0], base[0]) if base else "-",
                          ratio(m[1], base[1]) if base else "-"]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check-response":
        check_response(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    runs, outputs = load(out)
    with open(os.path.join(out, "meta.txt")) as f:
        for line in f:
            print(f"- {line.rstrip()}")
    print()
    generation_table(runs, outputs)
    compile_table(runs, outputs)


if __name__ == "__main__":
    main()
