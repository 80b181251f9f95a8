import stat

import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from generation import media
from generation.provenance import (
    CONSENT_LABEL,
    TRAINING_LABEL,
    ProvenanceClaims,
    ensure_signing_chain,
    read_manifest,
    sign_mp4,
)


@pytest.fixture(scope="module")
def mp4():
    frames = np.random.default_rng(1).integers(0, 255, (9, 64, 64, 3), dtype=np.uint8)
    return media.encode_mp4(frames, fps=16)


@pytest.fixture
def keys(tmp_path, settings):
    settings.PROVENANCE_KEY_DIR = tmp_path / "keys"
    return settings.PROVENANCE_KEY_DIR


CLAIMS = ProvenanceClaims(
    artist_pseudonym="atelier-artist-0123",
    consent_record_id=42,
    consent_version=3,
    training_use=False,
    program_ref="program-7",
)


def test_the_local_chain_is_made_once_with_private_keys(keys):
    ensure_signing_chain()
    first = (keys / "signer.key").read_bytes()
    ensure_signing_chain()
    assert (keys / "signer.key").read_bytes() == first
    for name in ("signer.key", "root.key", "intermediate.key"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificates((keys / "chain.pem").read_bytes())[0]
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_sign_then_read_back_and_validate_against_the_local_root(keys, mp4):
    out = sign_mp4(mp4, claims=CLAIMS, model_profile="wan-tiny")
    assert out.validation_state == "Trusted"
    assert out.unsigned_sha256 != out.signed_sha256
    report = read_manifest(out.data)
    assert report.trusted and report.errors == []
    actions = report.assertion("c2pa.actions.v2") or report.assertion("c2pa.actions")
    created = actions["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"].endswith("trainedAlgorithmicMedia")
    assert created["softwareAgent"]["name"] == "wan-tiny"
    assert report.assertion(CONSENT_LABEL) == {
        "consent_record_id": 42,
        "consent_version": 3,
        "program": "program-7",
        "training_use": False,
    }
    assert report.assertion(TRAINING_LABEL)["entries"]["cawg.ai_training"]["use"] == "notAllowed"
    author = report.assertion("stds.schema-org.CreativeWork")["author"][0]
    assert author["identifier"] == "atelier-artist-0123"
    # still a playable video
    assert media.probe(out.data)["frames"] == 9


def test_training_use_choice_is_embedded(keys, mp4):
    claims = ProvenanceClaims("p", 1, 1, True)
    report = read_manifest(sign_mp4(mp4, claims=claims, model_profile="wan-tiny").data)
    assert report.assertion(TRAINING_LABEL)["entries"]["cawg.ai_training"]["use"] == "allowed"


def test_without_the_trust_anchor_it_is_only_valid(keys, mp4):
    out = sign_mp4(mp4, claims=CLAIMS, model_profile="wan-tiny")
    assert read_manifest(out.data, trust_local_root=False).validation_state == "Valid"


def test_one_flipped_byte_makes_it_invalid(keys, mp4):
    out = sign_mp4(mp4, claims=CLAIMS, model_profile="wan-tiny")
    tampered = bytearray(out.data)
    tampered[len(tampered) // 2] ^= 0x01
    report = read_manifest(bytes(tampered))
    assert report.validation_state == "Invalid" and report.errors


def test_an_unsigned_file_has_no_manifest(keys, mp4):
    assert read_manifest(mp4).validation_state == "Missing"
