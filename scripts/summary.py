#!/usr/bin/env python3
"""Counts test cases over meson's logs and prints 'N passed, N failed'.

Each argument is a build directory. A TAP test contributes one case per TAP
line (from testlog.junit.xml); any other test one case. A test whose process
failed (crash, leak report, timeout, bad exit) without a failing TAP line
counts as one more failure (from testlog.json). A build without logs counts
as one failure, unless scripts/test.sh marked it as having no tests.
Exits 1 if anything failed.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

BAD = {"FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS"}
passed = failed = skipped = 0
for build in sys.argv[1:]:
    if os.path.exists(f"{build}/.no-tests"):
        continue
    try:
        root = ET.parse(f"{build}/meson-logs/testlog.junit.xml").getroot()
    except (OSError, ET.ParseError) as e:
        print(f"summary: no test log in {build}: {e}")
        failed += 1
        continue
    failing_suites = set()
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failing_suites.add(case.get("classname", "") + " " + case.get("name", ""))
            print(f"FAILED: {build}: {case.get('classname')} {case.get('name')}")
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    try:
        with open(f"{build}/meson-logs/testlog.json") as f:
            results = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        print(f"summary: no JSON test log in {build}: {e}")
        failed += 1
        continue
    for r in results:
        name = r.get("name", "")
        if r.get("result") in BAD and not any(s.endswith(name) or name in s
                                              for s in failing_suites):
            failed += 1
            print(f"FAILED: {build}: {name} ({r.get('result')})")
extra = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{extra}")
sys.exit(1 if failed else 0)
