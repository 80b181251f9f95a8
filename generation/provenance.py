"""C2PA provenance: a local signing chain and the signed manifest of each output.

Signing is the LAST thing done to an MP4: any later remux, even a stream copy,
silently drops the manifest (docs/design.md "Provenance facts"). The manifest is public, so
it carries a pseudonymous artist id and the consent record id/version, never a name or
an email. Claims are passed in by the caller; this module looks nothing up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

CONSENT_LABEL = "org.atelier.consent"
INPUTS_LABEL = "org.atelier.inputs"
TRAINING_LABEL = "cawg.training-mining"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CLAIM_GENERATOR = "Atelier"

_lock = threading.Lock()


@dataclass(frozen=True)
class ProvenanceClaims:
    """What the platform vouches for; embedded as-is (so: nothing personal)."""

    artist_pseudonym: str
    consent_record_id: int
    consent_version: int | None
    training_use: bool
    program_ref: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvenanceClaims:
        claims: dict[str, Any] = {
            k: data.get(k) for k in ("artist_pseudonym", "consent_record_id", "consent_version", "training_use")
        }
        return cls(**claims, program_ref=data.get("program_ref") or "")


@dataclass(frozen=True)
class Ingredient:
    """Something the output was made from: an input still or a source video. It goes into
    the manifest as a C2PA ingredient (relationship inputTo: an input to the model) named
    by its SHA-256; a source video that carries its own manifest brings it along."""

    data: bytes
    mime: str  # "image/png" | "video/mp4"
    role: str  # e.g. "start image of shot 1", "source video (generation 12)"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def definition(self) -> dict[str, Any]:
        return {
            "title": f"{self.role} sha256:{self.sha256}",
            "format": self.mime,
            "relationship": "inputTo",
            "description": f"sha256:{self.sha256}",
            "instance_id": f"atelier:sha256:{self.sha256}",
            "metadata": {"org.atelier.sha256": self.sha256, "org.atelier.role": self.role},
        }


@dataclass(frozen=True)
class SignedOutput:
    data: bytes
    manifest: dict[str, Any]
    validation_state: str
    unsigned_sha256: str
    signed_sha256: str


@dataclass(frozen=True)
class ManifestReport:
    manifest_store: dict[str, Any] | None
    active_manifest: dict[str, Any] | None
    validation_state: str  # "Trusted" | "Valid" | "Invalid" | "Missing"
    errors: list[str]

    @property
    def trusted(self) -> bool:
        return self.validation_state == "Trusted"

    @property
    def ingredients(self) -> list[dict[str, Any]]:
        return list((self.active_manifest or {}).get("ingredients", []))

    def assertion(self, label: str) -> Any:
        for item in (self.active_manifest or {}).get("assertions", []):
            if item.get("label") == label:
                return item.get("data")
        return None


def key_dir() -> Path:
    return Path(getattr(settings, "PROVENANCE_KEY_DIR", Path(settings.VAR_DIR) / "provenance"))


# --- the local chain: root CA -> intermediate -> end-entity signer ------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def ensure_signing_chain(directory: Path | None = None) -> Path:
    """Create the local CA, intermediate and signer on first use. Idempotent."""
    directory = Path(directory or key_dir())
    needed = ["root.pem", "chain.pem", "signer.key"]
    if all((directory / n).is_file() for n in needed):
        return directory
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    # Web, worker and test processes may all get here first: one makes the chain, under a
    # file lock, and the others then read the same files (never a key from one run and a
    # certificate from another).
    with _lock, open(directory / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if all((directory / n).is_file() for n in needed):
            return directory
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

        def name(cn: str) -> x509.Name:
            return x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Atelier (local)"),
                    x509.NameAttribute(NameOID.COMMON_NAME, cn),
                ]
            )

        def cert(
            subject: x509.Name,
            subject_key: ec.EllipticCurvePrivateKey,
            issuer: x509.Name,
            issuer_key: ec.EllipticCurvePrivateKey,
            *,
            ca: bool,
            days: int,
            path_len: int | None = None,
        ) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(issuer)
                .public_key(subject_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
                )
            )
            if ca:
                builder = builder.add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
            else:
                builder = builder.add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=False,
                        crl_sign=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            return builder.sign(issuer_key, hashes.SHA256())

        root_key = ec.generate_private_key(ec.SECP256R1())
        inter_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        root = cert(
            name("Atelier Local Root CA"),
            root_key,
            name("Atelier Local Root CA"),
            root_key,
            ca=True,
            days=3650,
            path_len=1,
        )
        inter = cert(
            name("Atelier Local Intermediate CA"), inter_key, root.subject, root_key, ca=True, days=1825, path_len=0
        )
        leaf = cert(name("Atelier Generation Signer"), leaf_key, inter.subject, inter_key, ca=False, days=825)

        pem = serialization.Encoding.PEM
        key_bytes = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        # The CA keys are kept (private) so an operator can reissue a signer; workers only need signer.key.
        for fname, k in (("root.key", root_key), ("intermediate.key", inter_key)):
            _write_private(
                directory / fname, k.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            )
        (directory / "chain.pem").write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))
        (directory / "root.pem").write_bytes(root.public_bytes(pem))
        _write_private(directory / "signer.key", key_bytes)  # last: its presence means the chain is complete
    return directory


def trust_anchor_pem(directory: Path | None = None) -> str:
    return (ensure_signing_chain(directory) / "root.pem").read_text()


def _c2pa_context(directory: Path | None, *, trust: bool) -> Any:  # a c2pa.Context (c2pa is untyped)
    import c2pa

    verify: dict[str, Any] = {"ocsp_fetch": False, "remote_manifest_fetch": False, "verify_trust": trust}
    config: dict[str, Any] = {"verify": verify}
    if trust:
        config["trust"] = {"trust_anchors": trust_anchor_pem(directory)}
    return c2pa.Context(settings=c2pa.Settings.from_dict(config))


# --- manifest -------------------------------------------------------------------------------


def build_manifest_definition(
    *,
    claims: ProvenanceClaims,
    model_profile: str,
    title: str,
    recipe: dict[str, Any] | None = None,
    ingredients: list[Ingredient] | tuple[Any, ...] = (),
) -> dict[str, Any]:
    allowed = "allowed" if claims.training_use else "notAllowed"
    author: dict[str, Any] = {"@type": "Person", "identifier": claims.artist_pseudonym, "name": claims.artist_pseudonym}
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": "1"}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": model_profile},
                        }
                    ]
                },
            },
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {"@context": "https://schema.org", "@type": "CreativeWork", "author": [author]},
            },
            {
                "label": CONSENT_LABEL,
                "data": {
                    "consent_record_id": claims.consent_record_id,
                    "consent_version": claims.consent_version,
                    "program": claims.program_ref,
                    "training_use": claims.training_use,
                },
            },
            {
                "label": TRAINING_LABEL,
                "data": {
                    "entries": {
                        "cawg.ai_training": {"use": allowed},
                        "cawg.ai_generative_training": {"use": allowed},
                        "cawg.ai_inference": {"use": allowed},
                        "cawg.data_mining": {"use": allowed},
                    }
                },
            },
            {
                # How it was made (mode, shots) and from what, by hash: public, so no names.
                "label": INPUTS_LABEL,
                "data": {
                    **(recipe or {}),
                    "ingredients": [{"role": i.role, "format": i.mime, "sha256": i.sha256} for i in ingredients],
                },
            },
        ],
    }


def _signer(directory: Path) -> Any:  # a c2pa.Signer (c2pa is untyped)
    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=b"es256",
        sign_cert=(directory / "chain.pem").read_bytes(),
        private_key=(directory / "signer.key").read_bytes(),
        ta_url=None,  # no timestamp authority: a TSA URL makes offline signing fail at once
    )
    return c2pa.Signer.from_info(info)


def sign_mp4(
    data: bytes,
    *,
    claims: ProvenanceClaims,
    model_profile: str,
    title: str = "Atelier generation",
    directory: Path | None = None,
    recipe: dict[str, Any] | None = None,
    ingredients: list[Ingredient] | tuple[Any, ...] = (),
) -> SignedOutput:
    import c2pa

    directory = ensure_signing_chain(directory)
    definition = build_manifest_definition(
        claims=claims, model_profile=model_profile, title=title, recipe=recipe, ingredients=ingredients
    )
    signer = _signer(directory)
    try:
        with c2pa.Builder(json.dumps(definition)) as builder:
            for ingredient in ingredients:
                builder.add_ingredient(ingredient.definition(), ingredient.mime, io.BytesIO(ingredient.data))
            dest = io.BytesIO()
            builder.sign(signer, "video/mp4", io.BytesIO(data), dest)
    finally:
        signer.close()
    signed = dest.getvalue()
    report = read_manifest(signed, directory=directory)
    return SignedOutput(
        data=signed,
        manifest=report.active_manifest or {},
        validation_state=report.validation_state,
        unsigned_sha256=hashlib.sha256(data).hexdigest(),
        signed_sha256=hashlib.sha256(signed).hexdigest(),
    )


def read_manifest(data: bytes, *, directory: Path | None = None, trust_local_root: bool = True) -> ManifestReport:
    """Read and validate the embedded manifest, with the local root as trust anchor."""
    import c2pa

    try:
        ctx = _c2pa_context(directory, trust=trust_local_root)
        with c2pa.Reader("video/mp4", io.BytesIO(data), context=ctx) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        text = str(exc)
        state = "Missing" if "ManifestNotFound" in text or "JumbfNotFound" in text else "Invalid"
        return ManifestReport(None, None, state, [text])
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), None)
    errors = [
        f"{s.get('code')}: {s.get('explanation', '')}"
        for s in ((store.get("validation_results") or {}).get("activeManifest") or {}).get("failure", [])
    ]
    state = store.get("validation_state") or ("Invalid" if errors else "Valid")
    return ManifestReport(store, active, state, errors)
