"""The Lambda package: the shop's code (reference_app/) and the libraries its handlers import,
as one zip that `gameday aws deploy` uploads to S3 (the template's CodeBucket/CodeKey).

- The code is the installed ``reference_app`` package (Python files and its data files).
- The libraries are the distributions the handler modules import (found by importing them in a
  fresh interpreter and mapping the modules to distributions), pinned to the versions installed
  here, so Lambda runs what the tests ran. They are fetched by pip as manylinux wheels for
  Lambda's Python (``pip install --platform ... --only-binary=:all:``), not copied from this
  machine, whose compiled wheels may not run on Lambda. boto3 and botocore come with Lambda's
  runtime and are left out.
- The zip is deterministic (sorted names, fixed timestamps), so its SHA-256 names the code: the
  same code gives the same S3 key, and CloudFormation updates the functions only when it
  changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import io
import json
import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

# Provided by Lambda's Python runtime (setuptools: only its import hook shows up in the scan).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil",
                              "six", "urllib3", "setuptools"})
# Imported lazily by reference_app.tracing, so not seen by an import scan.
LAZY_IMPORTS = ("aws-xray-sdk",)
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON = "3.11"
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)

_SCAN = r"""
import importlib, json, sys
from reference_app.handlers import HANDLERS
extra = ["reference_app.transaction_manager.handler", "reference_app.heartbeat.handler"]
for handler in [*HANDLERS.values(), *extra]:
    importlib.import_module(handler.rsplit(".", 1)[0])
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def handler_requirements() -> list[str]:
    """``name==version`` of each distribution the handlers import (transitive imports
    included), without the ones Lambda's runtime provides and without this project."""
    modules = json.loads(subprocess.run([sys.executable, "-c", _SCAN], check=True,
                                        capture_output=True, text=True).stdout)
    owners = metadata.packages_distributions()
    names: set[str] = set(LAZY_IMPORTS)
    for module in modules:
        if module in sys.stdlib_module_names or module == "reference_app":
            continue
        names.update(owners.get(module, []))
    pins = []
    for name in sorted(names, key=str.lower):
        dist = metadata.distribution(name)
        canonical = dist.metadata["Name"]
        if canonical.lower() in RUNTIME_PROVIDED or canonical == "shop-gameday":
            continue
        pins.append(f"{canonical}=={dist.version}")
    return pins


def code_files() -> list[tuple[str, Path]]:
    """(archive name, file) of the shop's code: every file of the reference_app package."""
    import reference_app

    root = Path(reference_app.__file__).resolve().parent
    files = [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.suffix not in {".pyc", ".pyo"}]
    return sorted((f"reference_app/{p.relative_to(root).as_posix()}", p) for p in files)


def vendor(requirements: Iterable[str], target: Path) -> None:
    """pip-install `requirements` as Lambda wheels into `target`."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
               "--target", str(target), "--platform", LAMBDA_PLATFORM,
               "--implementation", "cp", "--python-version", LAMBDA_PYTHON,
               "--only-binary=:all:", *requirements]
    log.info("vendoring %d distributions for Lambda", len(list(requirements)))
    subprocess.run(command, check=True)


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_zip(*, with_libraries: bool = True) -> bytes:
    """The Lambda package as zip bytes. ``with_libraries=False`` packs only the shop's code
    (tests: moto never runs the functions)."""
    entries: dict[str, bytes] = {name: path.read_bytes() for name, path in code_files()}
    if with_libraries:
        with tempfile.TemporaryDirectory(prefix="gameday-lambda-") as tmp:
            target = Path(tmp)
            vendor(handler_requirements(), target)
            for path in sorted(target.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    entries.setdefault(path.relative_to(target).as_posix(), path.read_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(entries):
            _add(zf, name, entries[name])
    return buffer.getvalue()


def digest(data: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of `data` (names the uploaded objects)."""
    return hashlib.sha256(data).hexdigest()[:16]
