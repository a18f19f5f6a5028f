"""Packs the assembled `mrt` package (build/sdk/python/mrt: the extension and the Python files)
into a wheel, without setuptools or the network: a wheel is a zip with a dist-info folder
(PEP 427, PEP 491). `pip install build/sdk/python/dist/mrt-*.whl` installs it into a venv.

The extension links mrt statically; it needs the shared libraries of Debian's packages that
mrt uses (libolm3, libsodium23, libsecp256k1-1, libnettle8, liblmdb0, libcurl4) at run time.
"""

import argparse
import base64
import hashlib
import pathlib
import sys
import sysconfig
import zipfile


def tag() -> str:
    interpreter = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{interpreter}-{interpreter}-{platform}"


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True, type=pathlib.Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    args = parser.parse_args()

    files = sorted(p for p in args.package.iterdir() if p.is_file() and p.suffix != ".pyc")
    if not any(p.name.startswith("_mrt") and p.suffix == ".so" for p in files):
        sys.exit(f"make_wheel: no _mrt extension in {args.package}")
    dist_info = f"mrt-{args.version}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        "Name: mrt\n"
        f"Version: {args.version}\n"
        "Summary: Matrix Raiden Transport: signed, end-to-end encrypted, exactly-once messaging "
        "for Raiden nodes over Matrix\n"
        "Requires-Python: >=3.9\n"
    ).encode()
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: mrt make_wheel.py\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {tag()}\n"
    ).encode()

    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("mrt-*.whl"):
        old.unlink()
    target = args.out / f"mrt-{args.version}-{tag()}.whl"
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as whl:
        entries = [(f"mrt/{p.name}", p.read_bytes()) for p in files]
        entries += [(f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel)]
        for name, data in entries:
            whl.writestr(name, data)
            records.append(record_line(name, data))
        records.append(f"{dist_info}/RECORD,,")
        whl.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    print(target)


if __name__ == "__main__":
    main()
