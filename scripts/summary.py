#!/usr/bin/env python3
"""Counts test cases over meson's JUnit logs and prints 'N passed, N failed'.

Each argument is a build directory. A TAP test contributes one case per TAP
line; any other test one case. A build without a log counts as one failure.
Exits 1 if anything failed.
"""
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for build in sys.argv[1:]:
    import os
    if os.path.exists(f"{build}/.no-tests"):
        continue
    path = f"{build}/meson-logs/testlog.junit.xml"
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"summary: no test log in {build}: {e}")
        failed += 1
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            print(f"FAILED: {build}: {case.get('classname')} {case.get('name')}")
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
extra = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{extra}")
sys.exit(1 if failed else 0)
