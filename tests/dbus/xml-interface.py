#!/usr/bin/env python3
"""The org.iobufd.Allocator1 interface out of introspection XML on stdin.

  xml-interface.py extract          prints it, canonical (to write the contract)
  xml-interface.py compare FILE     exits 1, with a diff, unless FILE holds the same
"""
import difflib
import sys
import xml.etree.ElementTree as ET

INTERFACE = "org.iobufd.Allocator1"


def canonical(root):
    for node in root.iter():
        node.text = node.tail = None
    for iface in root.iter("interface"):
        if iface.get("name") == INTERFACE:
            ET.indent(iface)
            return ET.tostring(iface, encoding="unicode") + "\n"
    sys.exit(f"no interface {INTERFACE} in the XML")


def main():
    live = canonical(ET.fromstring(sys.stdin.read()))
    if sys.argv[1:] == ["extract"]:
        sys.stdout.write(live)
        return
    if len(sys.argv) != 3 or sys.argv[1] != "compare":
        sys.exit(__doc__)
    with open(sys.argv[2]) as f:
        contract = canonical(ET.fromstring(f.read()))
    if live != contract:
        sys.stdout.writelines(difflib.unified_diff(
            contract.splitlines(True), live.splitlines(True), sys.argv[2], "introspected"))
        sys.exit(1)


if __name__ == "__main__":
    main()
