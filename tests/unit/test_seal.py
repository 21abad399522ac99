"""Electronic seals: key files, stamping, verification (见章发证), document numbers and the document store."""

import base64
import hashlib
import json
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from workers.catalog import load_catalog
from workers.seal import (
    DocumentNotFoundError,
    DocumentStore,
    InsecureKeyFileError,
    KeyStore,
    SealedDocument,
    SealKeyError,
    SealKeyNotFoundError,
    document_number,
    fingerprint,
    seal_owner,
    signing_payload,
    stamp,
    verify,
)
from workers.seal._files import create_exclusive

SIGNED_AT = datetime(2021, 7, 1, 10, 30, tzinfo=timezone(timedelta(hours=8)))
DOCUMENT: dict[str, Any] = {
    "documentNo": "XJ-JD-XJ20210701001",
    "kind": "decision",
    "caseNumber": "XJ20210701001",
    "title": "准予转外就医备案决定书",
    "applicant": {"name": "张三", "idNumberMasked": "370406********0011"},
    "items": ["转外就医备案", "异地就医"],
    "days": 3,
    "fee": 0.0,
    "approved": True,
    "remark": None,
}

# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


class MemoryKeys:
    """An in-memory key store: one fixed key per owner, no files (for property tests)."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PrivateKey] = {}

    def private_key(self, owner: str, /) -> Ed25519PrivateKey:
        """The owner's key, made on first use."""
        return self._keys.setdefault(owner, Ed25519PrivateKey.generate())

    def public_key(self, owner: str, /) -> Ed25519PublicKey:
        """The owner's public key; unknown owners are not registered."""
        if owner not in self._keys:
            raise SealKeyNotFoundError(owner)
        return self._keys[owner].public_key()


MEMORY_KEYS = MemoryKeys()


class OneKey:
    """Hands out one key whoever the owner is: a forger's key store."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    def private_key(self, _owner: str, /) -> Ed25519PrivateKey:
        """Always the same key."""
        return self._key


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    """A development key store in a fresh directory."""
    return KeyStore(tmp_path / "keys", generate_missing=True)


def seal_xiji(document: dict[str, Any], key_store: Any) -> SealedDocument:
    """``document`` stamped by 西集镇."""
    return stamp(
        document,
        owner="xiji",
        owner_name="西集镇",
        owner_kind="town",
        signed_at=SIGNED_AT,
        key_store=key_store,
    )


@pytest.fixture
def sealed(keys: KeyStore) -> SealedDocument:
    """The sample decision sealed by 西集镇."""
    return seal_xiji(DOCUMENT, keys)


def as_data(sealed: SealedDocument) -> dict[str, Any]:
    """The sealed document as parsed JSON (a fresh, mutable copy)."""
    data: dict[str, Any] = json.loads(sealed.to_json())
    return data


def mode_of(path: Path) -> int:
    """Permission bits of a file or directory."""
    return stat.S_IMODE(path.stat().st_mode)


def write_mounted_key(directory: Path, owner: str, mode: int) -> Ed25519PrivateKey:
    """Write a PKCS#8 PEM key as an operator would mount it, with the given mode."""
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    path = directory / f"{owner}.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(mode)
    return key


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


def test_dev_key_generated_once_private_and_reused(tmp_path: Path) -> None:
    """Development mode writes <owner>.key with 0600 in a 0700 directory, once, and later stores reuse it."""
    key_dir = tmp_path / "keys"
    first = KeyStore(key_dir, generate_missing=True)
    key = first.private_key("xiji")
    assert mode_of(key_dir) == 0o700
    assert mode_of(key_dir / "xiji.key") == 0o600
    assert (key_dir / "xiji.pub").exists()
    assert first.private_key("xiji") is key
    content = (key_dir / "xiji.key").read_bytes()
    assert content.startswith(b"-----BEGIN PRIVATE KEY-----")

    again = KeyStore(key_dir, generate_missing=True)
    assert again.fingerprint("xiji") == first.fingerprint("xiji")
    assert again.private_key("xiji").public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    assert (key_dir / "xiji.key").read_bytes() == content
    assert sorted(p.name for p in key_dir.iterdir()) == ["xiji.key", "xiji.pub"]  # no temporary files left


def test_public_key_file_and_fingerprint_format(keys: KeyStore) -> None:
    """<owner>.pub is SubjectPublicKeyInfo PEM; the fingerprint is SHA-256 of the raw 32-byte key in hex."""
    key = keys.private_key("rsj")
    pem = keys.public_key_path("rsj").read_bytes()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    loaded = serialization.load_pem_public_key(pem)
    assert isinstance(loaded, Ed25519PublicKey)
    raw = key.public_key().public_bytes_raw()
    assert keys.fingerprint("rsj") == hashlib.sha256(raw).hexdigest() == fingerprint(loaded)
    assert len(keys.fingerprint("rsj")) == 64


def test_production_refuses_missing_key_naming_owner_and_path(tmp_path: Path) -> None:
    """Production mode never generates: a missing key names the owner and the expected file."""
    store = KeyStore(tmp_path / "secrets", generate_missing=False)
    with pytest.raises(SealKeyNotFoundError) as caught:
        store.private_key("xiji")
    message = str(caught.value)
    assert "'xiji'" in message
    assert str(tmp_path / "secrets" / "xiji.key") in message
    assert not (tmp_path / "secrets").exists()


def test_production_refuses_group_readable_key(tmp_path: Path) -> None:
    """A mounted key with mode 0644 is refused with a message naming owner, path and mode."""
    write_mounted_key(tmp_path / "secrets", "rsj", 0o644)
    store = KeyStore(tmp_path / "secrets", generate_missing=False)
    with pytest.raises(InsecureKeyFileError, match=r"'rsj'.*rsj\.key.*0644"):
        store.private_key("rsj")


def test_dev_mode_also_refuses_an_existing_group_readable_key(tmp_path: Path) -> None:
    """The mode check applies to existing keys in development mode too."""
    write_mounted_key(tmp_path / "keys", "xiji", 0o640)
    with pytest.raises(InsecureKeyFileError):
        KeyStore(tmp_path / "keys", generate_missing=True).private_key("xiji")


def test_production_uses_mounted_read_only_key(tmp_path: Path) -> None:
    """A mounted 0400 key signs, and its public key is derived when no .pub is mounted."""
    key = write_mounted_key(tmp_path / "secrets", "xiji", 0o400)
    store = KeyStore(tmp_path / "secrets", generate_missing=False)
    sealed = seal_xiji(DOCUMENT, store)
    assert sealed.seal.fingerprint == fingerprint(key.public_key())
    assert verify(sealed, store).valid
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["xiji.key"]  # nothing written


def test_verifier_with_public_keys_only(tmp_path: Path, sealed: SealedDocument, keys: KeyStore) -> None:
    """A verifying store holding only <owner>.pub verifies; it has no private key to sign with."""
    public_dir = tmp_path / "public"
    public_dir.mkdir()
    (public_dir / "xiji.pub").write_bytes(keys.public_key_path("xiji").read_bytes())
    verifier = KeyStore(public_dir, generate_missing=False)
    assert verify(sealed, verifier).valid
    with pytest.raises(SealKeyNotFoundError):
        verifier.private_key("xiji")


def test_public_key_is_never_generated(keys: KeyStore) -> None:
    """Looking up an unknown owner's public key raises instead of creating a key."""
    with pytest.raises(SealKeyNotFoundError, match="'sangcun'"):
        keys.public_key("sangcun")
    assert not keys.private_key_path("sangcun").exists()


def test_mismatched_key_pair_is_refused(tmp_path: Path) -> None:
    """A .pub that is not the public half of the .key next to it is an error."""
    write_mounted_key(tmp_path / "keys", "xiji", 0o600)
    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "keys" / "xiji.pub").write_bytes(
        other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SealKeyError, match="does not match"):
        KeyStore(tmp_path / "keys", generate_missing=False).private_key("xiji")


def test_dev_mode_refuses_public_key_without_private_key(keys: KeyStore) -> None:
    """Development mode does not generate a private key that would not match an existing .pub."""
    keys.key_dir.mkdir(mode=0o700)
    public = Ed25519PrivateKey.generate().public_key()
    keys.public_key_path("xiji").write_bytes(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SealKeyError, match="no private key"):
        keys.private_key("xiji")
    assert not keys.private_key_path("xiji").exists()


@pytest.mark.parametrize("owner", ["../etc", "Xiji", "", "xi/ji", "xiji.key", ".hidden"])
def test_owner_codes_that_could_leave_the_key_directory_are_refused(keys: KeyStore, owner: str) -> None:
    """Owner codes name files, so only lowercase codes like 'xiji' are accepted."""
    with pytest.raises(ValueError, match="invalid seal owner code"):
        keys.private_key(owner)


# --------------------------------------------------------------------------------------------------
# Stamp and verify
# --------------------------------------------------------------------------------------------------


def test_stamp_verify_round_trip(sealed: SealedDocument, keys: KeyStore) -> None:
    """A stamped document verifies, as a model, as parsed JSON and as JSON text, and names its seal."""
    assert sealed.seal.seal_id == "seal:town:xiji"
    assert sealed.seal.owner_name == "西集镇"
    assert sealed.seal.signed_at == "2021-07-01T02:30:00Z"
    assert sealed.seal.algorithm == "Ed25519"
    assert sealed.seal.fingerprint == keys.fingerprint("xiji")
    assert sealed.document == DOCUMENT
    for form in (sealed, as_data(sealed), sealed.to_json(), sealed.to_json().encode()):
        result = verify(form, keys, expected_owner="xiji", expected_kind="town")
        assert result.valid, result.reason
        assert result.code == "valid"
        assert (result.owner, result.seal_id, result.fingerprint) == (
            "xiji",
            "seal:town:xiji",
            sealed.seal.fingerprint,
        )


def test_signature_covers_document_and_seal_metadata(sealed: SealedDocument, keys: KeyStore) -> None:
    """The signature is Ed25519 over RFC 8785 JSON of the document and every seal field but the signature."""
    payload = signing_payload(sealed.document, sealed.seal)
    expected = rfc8785.dumps(
        {"document": DOCUMENT, "seal": {k: v for k, v in as_data(sealed)["seal"].items() if k != "signature"}}
    )
    assert payload == expected
    keys.public_key("xiji").verify(base64.b64decode(sealed.seal.signature), payload)


def _set(path: tuple[str | int, ...], *, to: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = to

    return change


def _delete(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


@pytest.mark.parametrize(
    "change",
    [
        _set(("document", "title"), to="不予受理决定书"),
        _set(("document", "applicant", "name"), to="李四"),
        _set(("document", "items", 1), to="门诊慢特病"),
        _set(("document", "days"), to=30),
        _set(("document", "days"), to=3.5),
        _set(("document", "days"), to="3"),
        _set(("document", "approved"), to=False),
        _set(("document", "remark"), to=""),
        _set(("document", "extra"), to="added"),
        _delete(("document", "remark")),
        _set(("document", "items"), to=["异地就医", "转外就医备案"]),
    ],
    ids=[
        "title",
        "nested-name",
        "list-element",
        "number",
        "int-to-float",
        "number-to-string",
        "boolean",
        "null-to-empty",
        "added-key",
        "removed-key",
        "list-order",
    ],
)
def test_tampered_document_is_invalid(
    sealed: SealedDocument, keys: KeyStore, change: Callable[[dict[str, Any]], None]
) -> None:
    """Changing, adding or removing any document value breaks the seal."""
    data = as_data(sealed)
    change(data)
    result = verify(data, keys)
    assert not result.valid
    assert result.code == "signature-mismatch"
    assert "changed" in result.reason
    assert "改动" in result.reason


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("ownerName", "桑村镇", "signature-mismatch"),
        ("signedAt", "2021-07-02T02:30:00Z", "signature-mismatch"),
        ("signedAt", "2021-07-01T10:30:00+08:00", "signature-mismatch"),  # same instant, other text
        ("owner", "sangcun", "seal-id-mismatch"),
        ("ownerKind", "district", "seal-id-mismatch"),
        ("sealId", "seal:town:sangcun", "seal-id-mismatch"),
        ("fingerprint", "0" * 64, "fingerprint-mismatch"),
        ("algorithm", "RSA", "malformed"),
        ("signature", "not base64!", "bad-signature"),
        ("signature", "AAAA", "bad-signature"),
    ],
)
def test_tampered_seal_field_is_invalid(
    sealed: SealedDocument, keys: KeyStore, field: str, value: str, code: str
) -> None:
    """Changing any seal field, including the time and the signature, is detected with a reason."""
    data = as_data(sealed)
    data["seal"][field] = value
    result = verify(data, keys)
    assert not result.valid
    assert result.code == code
    assert result.reason


def test_owner_and_seal_id_both_changed_is_invalid(sealed: SealedDocument, keys: KeyStore) -> None:
    """Re-labelling a seal as another town's fails: that town's key has another fingerprint."""
    keys.private_key("sangcun")
    data = as_data(sealed)
    data["seal"].update(owner="sangcun", sealId="seal:town:sangcun", ownerName="桑村镇")
    result = verify(data, keys)
    assert result.code == "fingerprint-mismatch"


def test_flipped_signature_is_invalid(sealed: SealedDocument, keys: KeyStore) -> None:
    """A well-formed signature that is not the owner's over this content is a signature mismatch."""
    raw = bytearray(base64.b64decode(sealed.seal.signature))
    raw[10] ^= 0x01
    data = as_data(sealed)
    data["seal"]["signature"] = base64.b64encode(bytes(raw)).decode()
    assert verify(data, keys).code == "signature-mismatch"


def test_non_canonical_base64_signature_is_malformed(sealed: SealedDocument, keys: KeyStore) -> None:
    """Base64 that decodes to the same bytes but is spelled differently is refused (unused bits set)."""
    text = sealed.seal.signature
    last = text[-3]  # the last data character; its low 4 bits are unused for 64 bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    spelled = text[:-3] + alphabet[alphabet.index(last) | 0x01] + text[-2:]
    if spelled == text:
        spelled = text[:-3] + alphabet[alphabet.index(last) | 0x02] + text[-2:]
    data = as_data(sealed)
    data["seal"]["signature"] = spelled
    assert verify(data, keys).code == "bad-signature"


def test_seal_by_other_key_with_forged_owner_name_is_invalid(keys: KeyStore) -> None:
    """桑村镇 signing with its own key but calling itself 西集镇 fails the fingerprint check."""
    forger_key = keys.private_key("sangcun")
    keys.private_key("xiji")  # 西集镇's real key is registered

    forged = seal_xiji(DOCUMENT, OneKey(forger_key))
    assert forged.seal.owner_name == "西集镇"
    result = verify(forged, keys, expected_owner="xiji")
    assert not result.valid
    assert result.code == "fingerprint-mismatch"
    assert "xiji" in result.reason


def test_forged_fingerprint_does_not_help_the_forger(keys: KeyStore) -> None:
    """Copying 西集镇's fingerprint into a seal signed with another key fails the signature check."""
    forger_key = keys.private_key("sangcun")
    genuine = seal_xiji(DOCUMENT, keys)

    data = as_data(seal_xiji(DOCUMENT, OneKey(forger_key)))
    data["seal"]["fingerprint"] = genuine.seal.fingerprint
    assert verify(data, keys).code == "signature-mismatch"


def test_expected_owner_mismatch_is_invalid(sealed: SealedDocument, keys: KeyStore) -> None:
    """A valid seal of 西集镇 is not accepted where 桑村镇's seal is expected, nor as a district seal."""
    result = verify(sealed, keys, expected_owner="sangcun")
    assert not result.valid
    assert result.code == "owner-mismatch"
    assert "sangcun" in result.reason
    assert verify(sealed, keys, expected_kind="district").code == "owner-mismatch"


def test_unknown_owner_is_invalid(keys: KeyStore) -> None:
    """A seal whose owner has no registered key is invalid, not an error."""
    sealed = seal_xiji(DOCUMENT, MEMORY_KEYS)
    result = verify(sealed, keys)
    assert result.code == "unknown-owner"
    assert "xiji" in result.reason


def test_public_key_function_as_lookup(sealed: SealedDocument, keys: KeyStore) -> None:
    """verify accepts a plain function from owner code to public key."""
    assert verify(sealed, keys.public_key).valid


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"document": {}}',
        '{"document": {"a": NaN}, "seal": {}}',
        '{"document": {"a": 1, "a": 2}, "seal": {}}',
    ],
    ids=["empty", "truncated", "array", "no-seal", "nan", "duplicate-key"],
)
def test_malformed_input_is_invalid_not_an_error(keys: KeyStore, text: str) -> None:
    """Text that is not a sealed document gives an invalid result with a reason."""
    result = verify(text, keys)
    assert not result.valid
    assert result.code == "malformed"
    assert "well-formed" in result.reason


def test_duplicate_keys_in_a_sealed_file_are_refused(sealed: SealedDocument, keys: KeyStore) -> None:
    """A file repeating a key (which parsers resolve differently) does not verify."""
    text = sealed.to_json().replace('"title":', '"title": "假标题",\n    "title":', 1)
    assert verify(text, keys).code == "malformed"
    with pytest.raises(ValueError, match="duplicate key"):
        SealedDocument.from_json(text)


def test_key_order_and_whitespace_do_not_matter(sealed: SealedDocument, keys: KeyStore) -> None:
    """Re-serialising with other key order, whitespace and escaping keeps the seal valid."""

    def reversed_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reversed_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(v) for v in value]
        return value

    data = reversed_keys(as_data(sealed))
    for text in (
        json.dumps(data, ensure_ascii=True, separators=(",", ":")),
        json.dumps(data, ensure_ascii=False, indent=7),
        json.dumps(data, sort_keys=True, indent="\t"),
        rfc8785.dumps(data).decode(),
    ):
        assert text != sealed.to_json()
        assert verify(text, keys).valid
        assert verify(SealedDocument.from_json(text), keys).valid


def test_number_spelling_does_not_matter(keys: KeyStore) -> None:
    """1.0 and 1, 1e20 and 100000000000000000000 are the same JSON number to the seal."""
    sealed = seal_xiji({"documentNo": "N-1", "a": 1.0, "big": 1e20}, keys)
    text = sealed.to_json()
    assert '"big": 1e+20' in text
    respelled = text.replace('"a": 1.0', '"a": 1').replace("1e+20", "100000000000000000000")
    assert respelled != text
    assert verify(respelled, keys).valid


def test_chinese_text_round_trips(tmp_path: Path, keys: KeyStore) -> None:
    """Chinese text is written as is (UTF-8) and reads back to an equal, valid document."""
    document = {
        "documentNo": "XJ-YJ-XJ1",
        "意见": "经审核，申请材料齐全，符合法定形式，同意。",
        "镇": "凫城镇",
    }
    sealed = stamp(
        document,
        owner="fucheng",
        owner_name="凫城镇",
        owner_kind="town",
        signed_at=SIGNED_AT,
        key_store=keys,
    )
    text = sealed.to_json()
    assert "经审核，申请材料齐全" in text
    assert "凫城镇" in text
    path = tmp_path / "opinion.json"
    path.write_bytes(text.encode("utf-8"))
    again = SealedDocument.from_json(path.read_bytes())
    assert again == sealed
    assert again.document["意见"] == document["意见"]
    assert verify(again, keys, expected_owner="fucheng").valid


def test_stamp_requires_an_aware_time(keys: KeyStore) -> None:
    """A naive signing time is refused; an aware one is recorded in UTC."""
    naive = datetime(2021, 7, 1, 10, 30)  # noqa: DTZ001 - the naive value is the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        stamp(DOCUMENT, owner="xiji", owner_name="西集镇", owner_kind="town", signed_at=naive, key_store=keys)
    sealed = seal_xiji(DOCUMENT, keys)
    assert sealed.seal.signed_at_datetime == SIGNED_AT
    assert sealed.seal.signed_at_datetime.tzinfo is not None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"n": float("nan")}, r"document\.n: NaN"),
        ({"key": 2**60}, r"document\.key: integer outside"),
        ({"a": {"when": datetime(2021, 1, 1, tzinfo=UTC)}}, r"document\.a\.when: a datetime"),
        ({"a": [b"secret-bytes"]}, r"document\.a\[0\]: a bytes"),
        ({"a": {1: "x"}}, r"document\.a: object keys must be strings"),
    ],
)
def test_non_json_documents_are_refused_without_echoing_values(
    keys: KeyStore, document: dict[str, Any], message: str
) -> None:
    """Values that are not canonical JSON are refused, naming where they are but not what they are."""
    with pytest.raises((TypeError, ValueError), match=message) as caught:
        seal_xiji(document, keys)
    assert "secret-bytes" not in str(caught.value)
    assert str(2**60) not in str(caught.value)


def test_tuples_are_sealed_as_lists(keys: KeyStore) -> None:
    """A tuple in the document is sealed as a JSON array and verifies after a round trip."""
    sealed = seal_xiji({"documentNo": "T-1", "pair": ("a", 1)}, keys)
    assert sealed.document["pair"] == ["a", 1]
    assert verify(sealed.to_json(), keys).valid


def test_logs_name_the_seal_but_never_the_content(keys: KeyStore) -> None:
    """Stamping, verifying and saving log owner, seal id and fingerprint, never document values."""
    with capture_logs() as logs:
        sealed = seal_xiji(DOCUMENT, keys)
        verify(sealed, keys)
        data = as_data(sealed)
        data["document"]["applicant"]["name"] = "李四"
        verify(data, keys)
    events = [entry["event"] for entry in logs]
    assert "seal.stamped" in events
    assert "seal.verified" in events
    assert "seal.invalid" in events
    rendered = repr(logs)
    for secret in ("张三", "李四", "370406", "准予转外就医备案决定书"):
        assert secret not in rendered
    stamped = next(entry for entry in logs if entry["event"] == "seal.stamped")
    assert stamped["owner"] == "xiji"
    assert stamped["seal_id"] == "seal:town:xiji"
    assert stamped["fingerprint"] == sealed.seal.fingerprint


def test_seal_owner_named_from_the_catalog() -> None:
    """Seal owners take their official names from the catalog: towns and district departments."""
    catalog = load_catalog()
    town = seal_owner(catalog, "town", "xiji")
    assert (town.name, town.seal_id) == ("西集镇", "seal:town:xiji")
    department = seal_owner(catalog, "district", "rsj")
    assert (department.name, department.seal_id) == ("区人力资源和社会保障局", "seal:district:rsj")
    with pytest.raises(KeyError):
        seal_owner(catalog, "town", "rsj")


def test_reference_carries_no_content(sealed: SealedDocument) -> None:
    """The process-variable reference names the document and seal only."""
    reference = sealed.reference().model_dump(by_alias=True)
    assert reference == {
        "documentNo": "XJ-JD-XJ20210701001",
        "sealId": "seal:town:xiji",
        "sealOwner": "xiji",
        "sealFingerprint": sealed.seal.fingerprint,
        "signedAt": "2021-07-01T02:30:00Z",
    }


# --------------------------------------------------------------------------------------------------
# Document numbers and the store
# --------------------------------------------------------------------------------------------------


def test_document_number_is_deterministic_per_case_and_kind() -> None:
    """The same case and kind give the same number; kinds differ; the format is prefix-kind-case."""
    assert document_number("XJ", "XJ20210701001", "decision") == "XJ-JD-XJ20210701001"
    assert document_number("XJ", "XJ20210701001", "decision") == document_number(
        "XJ", "XJ20210701001", "decision"
    )
    numbers = {document_number("RS", "XJ-2021-0001", kind) for kind in ("decision", "opinion", "rejection")}
    assert numbers == {"RS-JD-XJ-2021-0001", "RS-YJ-XJ-2021-0001", "RS-BY-XJ-2021-0001"}


@pytest.mark.parametrize(
    ("prefix", "case_number", "kind", "message"),
    [
        ("xj", "XJ1", "decision", "prefix"),
        ("XJ", "../XJ1", "decision", "case number"),
        ("XJ", "", "decision", "case number"),
        ("XJ", "XJ1", "notice", "unknown document kind"),
    ],
)
def test_document_number_refuses_bad_parts(prefix: str, case_number: str, kind: str, message: str) -> None:
    """Prefixes are uppercase, case numbers are file-name safe, kinds are known."""
    with pytest.raises(ValueError, match=message):
        document_number(prefix, case_number, kind)


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    """A document store in a fresh directory."""
    return DocumentStore(tmp_path / "documents")


def test_store_returns_the_first_document_on_redelivery(store: DocumentStore, keys: KeyStore) -> None:
    """A second save with the same job key keeps and returns the first sealed document."""
    first = seal_xiji(DOCUMENT, keys)
    later = stamp(
        DOCUMENT,
        owner="xiji",
        owner_name="西集镇",
        owner_kind="town",
        signed_at=SIGNED_AT + timedelta(minutes=5),
        key_store=keys,
    )
    assert later != first
    job_key = 2251799813685249
    assert store.save(job_key, first) == first
    with capture_logs() as logs:
        again = store.save(job_key, later)
    assert again == first
    assert [entry["event"] for entry in logs] == ["seal.document_redelivered"]
    assert store.load_by_job(job_key) == first
    assert store.load("XJ-JD-XJ20210701001") == first
    assert verify(store.load_by_job(job_key), keys).valid


def test_store_files_are_private(store: DocumentStore, sealed: SealedDocument) -> None:
    """Stored documents (personal data) are 0600 in 0700 directories, named by job key."""
    store.save(7, sealed)
    path = store.directory / "7.json"
    assert mode_of(store.directory) == 0o700
    assert mode_of(path) == 0o600
    assert SealedDocument.from_json(path.read_text(encoding="utf-8")) == sealed
    assert not [p for p in store.directory.iterdir() if p.name.startswith(".")]


def test_store_load_by_number_gives_the_last_signed(store: DocumentStore, keys: KeyStore) -> None:
    """When a later job re-issues a number (re-sealed opinion), load returns the later document."""
    first = seal_xiji(DOCUMENT, keys)
    second = stamp(
        DOCUMENT,
        owner="xiji",
        owner_name="西集镇",
        owner_kind="town",
        signed_at=SIGNED_AT + timedelta(days=1),
        key_store=keys,
    )
    store.save(20, second)
    store.save(10, first)
    assert store.load("XJ-JD-XJ20210701001") == second
    assert store.load_by_job(10) == first


def test_store_missing_documents(store: DocumentStore, keys: KeyStore) -> None:
    """Unknown job keys and numbers raise DocumentNotFoundError; documents need a number to be stored."""
    with pytest.raises(DocumentNotFoundError, match="job 5"):
        store.load_by_job(5)
    with pytest.raises(DocumentNotFoundError, match="XJ-JD-X1"):
        store.load("XJ-JD-X1")
    with pytest.raises(ValueError, match="documentNo"):
        store.save(1, seal_xiji({"title": "无编号"}, keys))
    with pytest.raises(ValueError, match="invalid document number"):
        store.load("../1")
    with pytest.raises(ValueError, match="job key"):
        store.load_by_job(0)


def test_store_repairs_a_missing_number_marker(store: DocumentStore, sealed: SealedDocument) -> None:
    """If a crash left a document without its number marker, the redelivered job's save restores it."""
    store.save(3, sealed)
    marker = store.directory / "by-number" / "XJ-JD-XJ20210701001" / "3"
    marker.unlink()
    with pytest.raises(DocumentNotFoundError):
        store.load("XJ-JD-XJ20210701001")
    assert store.save(3, sealed) == sealed
    assert store.load("XJ-JD-XJ20210701001") == sealed


def test_exclusive_create_never_replaces_a_file(tmp_path: Path) -> None:
    """Key and document files are created once: a second writer gets False and the first content stays."""
    path = tmp_path / "owner.key"
    assert create_exclusive(path, b"first", mode=0o600)
    assert not create_exclusive(path, b"second", mode=0o600)
    assert path.read_bytes() == b"first"
    assert mode_of(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["owner.key"]


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
json_documents = st.dictionaries(st.text(), json_values, max_size=6)


@given(document=json_documents)
def test_any_json_document_stamps_and_verifies(document: dict[str, Any]) -> None:
    """Any JSON-able document can be sealed, and verifies directly and after a JSON round trip."""
    sealed = seal_xiji(document, MEMORY_KEYS)
    assert verify(sealed, MEMORY_KEYS).valid
    assert verify(sealed.to_json(), MEMORY_KEYS).valid


def _canonical_text(sealed: SealedDocument) -> str:
    return rfc8785.dumps(sealed.model_dump(by_alias=True)).decode("utf-8")


@given(document=json_documents, data=st.data())
def test_any_single_character_change_breaks_the_seal(document: dict[str, Any], data: st.DataObject) -> None:
    """Changing one character of the canonical sealed text invalidates it, unless it spells the same JSON."""
    sealed = seal_xiji(document, MEMORY_KEYS)
    original = _canonical_text(sealed)
    index = data.draw(st.integers(min_value=0, max_value=len(original) - 1), label="index")
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != original[index]))
    changed = original[:index] + replacement + original[index + 1 :]

    try:
        same_json = _canonical_text(SealedDocument.from_json(changed)) == original
    except ValueError:  # not JSON, not a sealed document, or not canonicalisable
        same_json = False
    result = verify(changed, MEMORY_KEYS)
    # Only re-spellings of the same values (1e+21 → 1E+21, \u001f → \u001F) may stay valid.
    assert result.valid == same_json, result.reason


def _iter_mutations(text: str) -> Iterator[str]:
    for index, char in enumerate(text):
        yield text[:index] + ("x" if char != "x" else "y") + text[index + 1 :]


def test_every_position_of_a_sealed_text_is_protected(keys: KeyStore) -> None:
    """Exhaustively: replacing any single character of a small sealed document's canonical text breaks it."""
    sealed = seal_xiji({"documentNo": "XJ-BY-1", "申请人": "王五", "n": [1, 2.5, True, None]}, keys)
    original = _canonical_text(sealed)
    for changed in _iter_mutations(original):
        assert not verify(changed, keys).valid
