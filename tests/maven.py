"""Run a Maven module's tests and count what Surefire reports (shared by the Android tests)."""
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path


def mvn_test(module: Path, *properties: str, timeout: int = 900):
    """`mvn test` in `module` with -D properties; (process, tests, failed or errored, skipped)."""
    reports = Path(module) / "target" / "surefire-reports"
    shutil.rmtree(reports, ignore_errors=True)
    proc = subprocess.run(["mvn", "-B", "-q", "test", *(f"-D{p}" for p in properties)], cwd=module,
                          capture_output=True, text=True, timeout=timeout)
    total = failures = skipped = 0
    for xml in reports.glob("TEST-*.xml"):
        suite = ET.parse(xml).getroot()
        total += int(suite.get("tests"))
        failures += int(suite.get("failures")) + int(suite.get("errors"))
        skipped += int(suite.get("skipped"))
    return proc, total, failures, skipped
