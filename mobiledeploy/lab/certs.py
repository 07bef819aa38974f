"""`lab certs`: the lab's own certificate authority and one certificate per party (scheduler, worker, client).

Every connection in a lab is mutual TLS: a party is admitted when its certificate is signed by this CA, so the
CA's key is the lab's one secret (it stays in OUT/ca/, never copied into a party's folder). Each party's folder
holds what that host needs and nothing more: ca.pem, cert.pem, key.pem (0600), and `role` (scheduler, worker or
client). Keys are written 0600 through a temporary file and a rename, never over something that is not a file.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import atomic_write, make_dirs

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ROLES = ("scheduler", "worker", "client")
FILES = ("ca.pem", "cert.pem", "key.pem")
FIX_CA = "give the --out of the first `lab certs`, or a new --out for a new lab"
DAYS = 825          # the longest validity TLS clients accept for a leaf certificate


def check_name(name: str, what: str) -> str:
    """A party's name: a host name (it becomes a folder name and a certificate's common name)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise MobiledeployError(f"{what} {str(name)[:40]!r} is not a host name: letters, digits, '.', '_' and '-' "
                                "(e.g. labhost, desk1)")
    return name


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common: str, lab: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"mobiledeploy lab {lab}"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(lab: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    name = _name(f"mobiledeploy lab CA {lab}", lab)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key, ca_cert, name: str, role: str, lab: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    alt = [x509.DNSName(name), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(_name(name, lab)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            # every party both accepts and opens connections (a worker talks to the scheduler and to workers)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _load_ca(folder: Path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from ..readers import read_bytes

    try:
        cert = x509.load_pem_x509_certificate(read_bytes(folder / "ca.pem", "the lab's CA certificate", 1 << 20, FIX_CA))
        key = serialization.load_pem_private_key(read_bytes(folder / "ca-key.pem", "the lab's CA key", 1 << 20, FIX_CA), None)
    except ValueError as exc:
        raise MobiledeployError(f"{folder} does not hold a readable lab CA ({exc}): give the --out of the first "
                                "`lab certs`, or a new --out for a new lab") from None
    return key, cert


def make(out, scheduler: str | None, workers: list[str], clients: list[str], lab: str | None = None) -> dict:
    """Write (or extend) a lab's certificates under `out`: OUT/ca/ (the CA; keep it off the lab's hosts) and
    OUT/<name>/ for each party. An existing CA signs the new parties; an existing party is kept, not replaced."""
    out = Path(out)
    parties = ([(scheduler, "scheduler")] if scheduler else []) + [(w, "worker") for w in workers] + \
        [(c, "client") for c in clients]
    if not parties:
        raise MobiledeployError("name at least one party: --scheduler HOST, --workers HOST,... or --clients NAME,...")
    seen = set()
    for name, role in parties:
        check_name(name, f"--{role}s" if role != "scheduler" else "--scheduler")
        if name in seen or name == "ca":
            raise MobiledeployError(f"{name!r} is named twice (or is 'ca'): each party needs its own name")
        seen.add(name)
    make_dirs(out)
    ca_dir = out / "ca"
    if (ca_dir / "ca.pem").exists():
        ca_key, ca_cert = _load_ca(ca_dir)
        made_ca = False
    else:
        lab = lab or out.resolve().name
        ca_key, ca_cert = _ca(lab)
        make_dirs(ca_dir)
        os.chmod(ca_dir, 0o700)
        atomic_write(ca_dir / "ca-key.pem", _pem_key(ca_key), mode=0o600, what="CA key")
        atomic_write(ca_dir / "ca.pem", _pem_cert(ca_cert), what="CA certificate")
        made_ca = True
    lab_name = ca_cert.subject.rfc4514_string()
    written, kept = [], []
    for name, role in parties:
        folder = out / name
        if (folder / "cert.pem").exists():
            kept.append(name)
            continue
        key, cert = _leaf(ca_key, ca_cert, name, role, lab_name)
        make_dirs(folder)
        os.chmod(folder, 0o700)
        atomic_write(folder / "key.pem", _pem_key(key), mode=0o600, what=f"{name}'s key")
        atomic_write(folder / "cert.pem", _pem_cert(cert), what=f"{name}'s certificate")
        atomic_write(folder / "ca.pem", _pem_cert(ca_cert), what="CA certificate")
        atomic_write(folder / "role", role + "\n", what=f"{name}'s role")
        written.append({"name": name, "role": role, "folder": str(folder.resolve())})
    return {"out": str(out.resolve()), "ca": str(ca_dir.resolve()), "new_ca": made_ca, "written": written,
            "kept": kept}


def party(folder) -> dict:
    """A party's certificate folder checked (the three files, the key 0600): {"ca", "cert", "key", "role", "name"}."""
    from ..readers import read_text

    folder = Path(folder)
    if not folder.is_dir():
        raise MobiledeployError(f"--certs {folder} is not a folder: give one party's folder that `lab certs` wrote "
                                "(e.g. lab-certs/desk1)")
    paths = {f: folder / f for f in FILES}
    missing = [f for f, p in paths.items() if not p.is_file()]
    if missing:
        raise MobiledeployError(f"{folder} lacks {', '.join(missing)}: give one party's folder that `lab certs` "
                                "wrote (e.g. lab-certs/desk1), not the lab's top folder")
    mode = paths["key.pem"].stat().st_mode & 0o077
    if mode:
        raise MobiledeployError(f"{paths['key.pem']} is readable by others: chmod 600 {paths['key.pem']}")
    role = read_text(folder / "role", "the party's role", 64, "run lab certs again").strip() if (folder / "role").is_file() else ""
    return {"ca": str(paths["ca.pem"]), "cert": str(paths["cert.pem"]), "key": str(paths["key.pem"]),
            "role": role if role in ROLES else "", "name": folder.name}
