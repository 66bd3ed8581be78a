"""Lambda bundles built without Docker: pip fetches manylinux wheels for the function's
architecture and Python, and the bundle is those packages, the docflow library and the
function's own folder, nothing else.

    build/bundles/<architecture>-py<version>/<function>/
        app.py ...            functions/<name>/*.py
        docflow/              the runtime library every function shares
        <packages>            functions/<name>/requirements.txt, for Lambda's platform

The SDK (boto3 and what it needs) is left out: Lambda's Python runtime provides it, and it
is most of a bundle's size. Dependencies are installed once per requirements file,
architecture and Python (keyed by a hash of the three) into build/dependencies/, and
copied into each bundle that needs them, wherever the bundle is built.

    python -m infra.bundles [--architecture arm64|x86_64] [NAME...]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from docflow.ocr import tessdata_dir
from infra.catalog import REPO_ROOT, FunctionSpec, load_catalog

BUILD_DIR = REPO_ROOT / "build"
DEPENDENCIES_DIR = BUILD_DIR / "dependencies"
LIBRARY = REPO_ROOT / "docflow"
# The wheel tags Lambda's Python runtimes (Amazon Linux 2023, glibc 2.34) can load: newer
# wheels (numpy for Python 3.14, for one) are built for glibc 2.28 and tagged only so.
PLATFORMS = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
# What Lambda's Python runtime already has; bundling it again only adds megabytes.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
COMPLETE = ".complete"  # marks a finished install
FINGERPRINT = ".fingerprint"  # what a bundle was built from


def runtime_python(spec: FunctionSpec) -> str:
    """ "python3.12" -> "3.12"."""
    return spec.runtime.removeprefix("python")


def build_bundle(
    spec: FunctionSpec, architecture: str | None = None, python: str | None = None, build_dir: Path = BUILD_DIR
) -> Path:
    """Builds functions/<name>'s bundle and returns its folder: for the catalog's
    architecture and runtime unless told otherwise (tests build one this machine can run).
    A bundle already built from the same inputs is kept as it is; otherwise it is replaced.
    Dependencies come from the cache in DEPENDENCIES_DIR."""
    architecture = architecture or spec.architecture
    python = python or runtime_python(spec)
    bundle = build_dir / "bundles" / f"{architecture}-py{python}" / spec.name
    dependencies = _dependencies(spec, architecture, python)
    data = bundled_data(spec)
    fingerprint = _fingerprint(dependencies, LIBRARY, spec.code_dir, *data.values())
    if _built_from(bundle) == fingerprint:
        return bundle
    # Built beside it and swapped in whole, so that builds running at once (pytest's
    # workers, a synth beside a test) never see, or leave, half a bundle.
    bundle.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=bundle.parent, prefix=f".{spec.name}-"))
    shutil.copytree(dependencies, staging, dirs_exist_ok=True)
    shutil.copytree(LIBRARY, staging / "docflow", ignore=_left_out)
    shutil.copytree(spec.code_dir, staging, ignore=_left_out, dirs_exist_ok=True)
    for name, source in data.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, staging / name)
    (staging / FINGERPRINT).write_text(fingerprint)
    outdated = Path(tempfile.mkdtemp(dir=bundle.parent, prefix=f".{spec.name}-outdated-"))
    with contextlib.suppress(FileNotFoundError):  # none yet, or another build is swapping it now
        bundle.rename(outdated / spec.name)
    try:
        staging.rename(bundle)
    except OSError:  # another build put its bundle in place first
        if _built_from(bundle) != fingerprint:
            raise
        shutil.rmtree(staging)
    shutil.rmtree(outdated)
    return bundle


def _built_from(bundle: Path) -> str | None:
    try:
        return (bundle / FINGERPRINT).read_text()
    except FileNotFoundError:
        return None


def bundle_fingerprint(bundle: Path) -> str:
    """What a built bundle was made from, as one hash: CDK's asset hash, so that a synth
    need not hash every file of every bundle again."""
    return (bundle / FINGERPRINT).read_text()


def bundled_data(spec: FunctionSpec) -> dict[str, Path]:
    """Files a bundle carries beside its code, by their path in it: Tesseract's data for
    each language the function's DOCFLOW_OCR_LANGUAGES names (from Debian's tesseract-ocr-*
    packages, which scripts/system-packages.sh installs)."""
    languages = spec.environment.get("DOCFLOW_OCR_LANGUAGES")
    if not languages:
        return {}
    folder = tessdata_dir(languages)
    return {f"tessdata/{name}.traineddata": folder / f"{name}.traineddata" for name in languages.split("+")}


def _fingerprint(dependencies: Path, *sources: Path) -> str:
    """The installed dependencies (named by their own key) and every source file copied."""
    digest = hashlib.sha256(dependencies.name.encode())
    for source in sources:
        for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
            if path.is_file() and not _ignored(path):
                digest.update(f"\0{source.name}/{path.relative_to(source) if source.is_dir() else ''}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _ignored(path: Path) -> bool:
    """What a bundle leaves out of the sources: compiled files, and the requirements (their
    packages are in it)."""
    return "__pycache__" in path.parts or path.suffix == ".pyc" or path.name == "requirements.txt"


def _left_out(folder: str, names: list[str]) -> list[str]:
    """_ignored, as shutil.copytree asks it."""
    return [name for name in names if _ignored(Path(folder, name))]


def _dependencies(spec: FunctionSpec, architecture: str, python: str) -> Path:
    requirements = spec.code_dir / "requirements.txt"
    key = hashlib.sha256(f"{requirements.read_text()}\n{architecture}\n{python}".encode()).hexdigest()[:16]
    target = DEPENDENCIES_DIR / key
    if (target / COMPLETE).exists():
        return target
    shutil.rmtree(target, ignore_errors=True)  # left by an older, interrupted build
    # Installed beside the target and renamed into place when complete, so that builds
    # running at once (a test run and `make synth`) never see or remove half an install.
    DEPENDENCIES_DIR.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=DEPENDENCIES_DIR))
    try:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--target", str(partial),
                *(option for tag in PLATFORMS[architecture] for option in ("--platform", tag)),
                "--implementation", "cp",
                "--python-version", python,
                "--only-binary=:all:",  # wheels for Lambda's platform; never build for this machine
                "--no-compile",
                "--requirement", str(requirements),
            ],
            check=True,
        )  # fmt: skip
        for name in RUNTIME_PROVIDED:
            for path in partial.glob(f"{name}*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        shutil.rmtree(partial / "bin", ignore_errors=True)
        (partial / COMPLETE).touch()
        try:
            partial.rename(target)
        except OSError:  # another build got there first: its copy is as good as ours
            if not target.exists():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def build_all(architecture: str | None = None, names: list[str] | None = None) -> dict[str, Path]:
    return {spec.name: build_bundle(spec, architecture) for spec in load_catalog() if not names or spec.name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bundles", description="Builds the Lambda bundles.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="functions to build (default: all)")
    parser.add_argument("--architecture", choices=sorted(PLATFORMS), help="default: each function's, from the catalog")
    arguments = parser.parse_args(argv)
    for name, path in build_all(arguments.architecture, arguments.names).items():
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        print(f"{name:<10} {size / 1e6:6.1f} MB  {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
