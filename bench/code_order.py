"""code_order.py KURA_BIN CALLGRIND_OUT: prints the (mangled) names of the functions of KURA_BIN
that ran in a callgrind profile, one per line, sorted: lld's --symbol-ordering-file."""
import collections
import re
import subprocess
import sys

# Callgrind compresses names: "fn=(12) name" defines id 12 the first time, "fn=(12)" reuses it;
# the definition may come in any of ob/cob (objects) or fn/cfn (functions).
NAME = re.compile(r"(c?ob|c?fn)=\((\d+)\)(?: (.+))?$")


def executed_functions(profile, binary_suffix):
    objects, functions, ran = {}, {}, set()
    current_object = None
    with open(profile, errors="replace") as f:
        for line in f:
            m = NAME.match(line.rstrip("\n"))
            if not m:
                continue
            kind, key, name = m.groups()
            table = objects if kind.endswith("ob") else functions
            if name:
                table[key] = name
            if kind == "ob":
                current_object = objects.get(key, "")
            elif kind == "fn" and current_object.endswith(binary_suffix):
                ran.add(key)
    return {functions[k] for k in ran if k in functions}


def symbols(binary, demangle):
    args = ["nm", "--defined-only"] + (["-C"] if demangle else []) + [binary]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    by_address = collections.defaultdict(list)
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            by_address[parts[0]].append(parts[2])
    return by_address


def main():
    binary, profile = sys.argv[1], sys.argv[2]
    ran = executed_functions(profile, "/" + binary.rsplit("/", 1)[-1])
    # Callgrind names are demangled; the linker wants the mangled ones: join on the address.
    demangled, mangled = symbols(binary, True), symbols(binary, False)
    names = set()
    for address, pretty in demangled.items():
        if any(p in ran for p in pretty):
            names.update(mangled[address])
    if len(names) < 100:
        sys.exit(f"code_order.py: only {len(names)} functions of {binary} ran in {profile}")
    print("\n".join(sorted(names)))


if __name__ == "__main__":
    main()
