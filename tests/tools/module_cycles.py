"""Lists import cycles between the runtime's modules: among the top-level modules (what `crate::X` paths a
module's files use) and, inside each module directory, among its files (`super::X` / `crate::dir::X`).
Comments and `#[cfg(test)] mod tests` are left out. Prints each cycle and exits 1 if there is one.

    python3 tests/tools/module_cycles.py runtime/src
"""

import os
import re
import sys


def strip(source):
    source = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", source, flags=re.S)
    return "\n".join(line for line in source.split("\n") if not line.lstrip().startswith("//"))


def cycles(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def top_level(root):
    edges = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            relative = os.path.relpath(os.path.join(directory, name), root)[:-3].split(os.sep)
            if relative[-1] == "mod":
                relative = relative[:-1]
            if relative == ["lib"]:
                continue
            module = relative[0]
            source = strip(open(os.path.join(directory, name), encoding="utf-8").read())
            for used in re.findall(r"crate::([a-z_0-9]+)", source):
                if used != module and (os.path.isdir(os.path.join(root, used)) or os.path.exists(os.path.join(root, used + ".rs"))):
                    edges.setdefault(module, set()).add(used)
    return edges


def inside(root, package):
    directory = os.path.join(root, package)
    edges = {}
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            module, path = name, os.path.join(path, "mod.rs")
        elif name.endswith(".rs") and name != "mod.rs":
            module = name[:-3]
        else:
            continue
        if not os.path.exists(path):
            continue
        source = strip(open(path, encoding="utf-8").read())
        for used in re.findall(r"(?:super|crate::" + package + r")::([a-z_0-9]+)", source):
            exists = os.path.exists(os.path.join(directory, used + ".rs")) or os.path.isdir(os.path.join(directory, used))
            if used != module and exists:
                edges.setdefault(module, set()).add(used)
    return edges


def main():
    root = sys.argv[1]
    found = [("crate", c) for c in cycles(top_level(root))]
    for name in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, name)):
            found += [(name, c) for c in cycles(inside(root, name))]
    for where, cycle in found:
        print(f"import cycle in {where}: {' <-> '.join(cycle)}")
    sys.exit(1 if found else 0)


main()
