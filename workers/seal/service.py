"""Stamping and verifying electronic seals, document numbers, and the idempotent store of sealed documents.

- :func:`stamp` signs a JSON document with the owner's Ed25519 key. The signature covers
  :func:`signing_payload`: the RFC 8785 canonical JSON of ``{"document": ..., "seal": <every seal field
  but the signature>}``, so the owner, owner name and kind, fingerprint, time and algorithm are sealed
  too.
- :func:`verify` checks a sealed document against the owner's *registered* public key (见章发证: the
  district checks the town's seal). It never raises for a bad document: every defect is an invalid
  :class:`SealVerification` with a reason. Only a broken key set-up (an unreadable key file) raises.
- :func:`document_number` derives a document's number from the case number and the document kind, so a
  redelivered ``seal.stamp`` job produces the same number.
- :class:`DocumentStore` keeps each sealed document under the key of the job that stamped it and returns
  the stored one when the job is delivered again.

Document contents may hold personal data: nothing here logs them, and error messages name the location
of a bad value (``document.applicant.age``), never the value.
"""

import base64
import binascii
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from workers.logging import get_logger
from workers.seal._files import create_exclusive, ensure_private_dir
from workers.seal.keys import (
    PublicKeyLookup,
    SealKeyNotFoundError,
    SigningKeySource,
    check_owner_code,
    fingerprint,
)
from workers.seal.models import (
    ALGORITHM,
    MAX_SAFE_INTEGER,
    DocumentKind,
    Seal,
    SealedDocument,
    SealFields,
    SealOwnerKind,
    SealVerification,
    VerificationCode,
    parse_json,
    seal_id,
)

__all__ = [
    "DOCUMENT_KIND_CODES",
    "DocumentNotFoundError",
    "DocumentStore",
    "OwnerDirectory",
    "SealOwner",
    "document_number",
    "seal_owner",
    "signing_payload",
    "stamp",
    "verify",
]

_log = get_logger(__name__)

#: Two-letter codes of document kinds inside document numbers: 决定 (JD), 意见 (YJ), 不予 (BY).
DOCUMENT_KIND_CODES: Final[Mapping[str, str]] = {"decision": "JD", "opinion": "YJ", "rejection": "BY"}
_PREFIX_RE: Final = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
_CASE_NUMBER_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_DOCUMENT_NO_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$")
_SIGNATURE_BYTES: Final = 64

# --------------------------------------------------------------------------------------------------
# Seal owners
# --------------------------------------------------------------------------------------------------


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class OwnerDirectory(Protocol):
    """Towns and district departments by code (``workers.catalog.Catalog`` is one); KeyError if unknown."""

    def town(self, code: str, /) -> _Named: ...
    def department(self, code: str, /) -> _Named: ...


@dataclass(frozen=True, slots=True)
class SealOwner:
    """Who seals: a town or a district department, by code and official name."""

    kind: SealOwnerKind
    code: str
    name: str

    @property
    def seal_id(self) -> str:
        """``seal:town:xiji`` / ``seal:district:rsj``."""
        return seal_id(self.kind, self.code)


def seal_owner(directory: OwnerDirectory, kind: SealOwnerKind, code: str) -> SealOwner:
    """The seal owner ``code`` of ``kind``, named as in the catalog (KeyError for an unknown code)."""
    entry = directory.town(code) if kind == "town" else directory.department(code)
    return SealOwner(kind=kind, code=code, name=entry.name)


# --------------------------------------------------------------------------------------------------
# Canonical payload
# --------------------------------------------------------------------------------------------------


def _json_value(value: Any, where: str, *, large_ints: Literal["refuse", "as-double"]) -> Any:
    """A plain JSON copy of ``value``; TypeError or ValueError naming ``where`` (never the value)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            return value
        if large_ints == "as-double":
            return float(value)
        raise ValueError(
            f"{where}: integer outside ±(2**53 - 1) cannot be represented in canonical JSON; use a string"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: NaN and infinities are not JSON")
        return value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: object keys must be strings, found a {type(key).__name__}")
            result[key] = _json_value(item, f"{where}.{key}", large_ints=large_ints)
        return result
    if isinstance(value, list | tuple):
        return [_json_value(item, f"{where}[{k}]", large_ints=large_ints) for k, item in enumerate(value)]
    raise TypeError(f"{where}: a {type(value).__name__} is not JSON")


def _canonical(payload: Mapping[str, Any]) -> bytes:
    try:
        result: bytes = rfc8785.dumps(payload)
    except rfc8785.CanonicalizationError as exc:  # e.g. a lone surrogate in a string
        raise ValueError(f"the document cannot be canonicalised (RFC 8785): {exc}") from None
    return result


def signing_payload(document: Mapping[str, Any], seal: SealFields) -> bytes:
    """The bytes an owner signs: RFC 8785 JSON of ``{"document": document, "seal": <seal w/o signature>}``."""
    plain = _json_value(document, "document", large_ints="refuse")
    return _canonical({"document": plain, "seal": seal.signed_content()})


def _format_instant(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("signed_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------
# Stamp and verify
# --------------------------------------------------------------------------------------------------


def stamp(
    document: Mapping[str, Any],
    *,
    owner: str,
    owner_name: str,
    owner_kind: SealOwnerKind,
    signed_at: datetime,
    key_store: SigningKeySource,
) -> SealedDocument:
    """Seal ``document`` with the owner's key; ``signed_at`` (aware) is recorded in UTC.

    The document must be JSON: string keys; str, int within ±(2**53 - 1), finite float, bool, None,
    lists (tuples) and mappings. Anything else is a TypeError or ValueError naming the location (e.g.
    ``document.applicant.age``), never the value.
    """
    check_owner_code(owner)
    plain: dict[str, Any] = _json_value(document, "document", large_ints="refuse")
    key = key_store.private_key(owner)
    fields = SealFields(
        seal_id=seal_id(owner_kind, owner),
        owner=owner,
        owner_name=owner_name,
        owner_kind=owner_kind,
        fingerprint=fingerprint(key.public_key()),
        signed_at=_format_instant(signed_at),
        algorithm=ALGORITHM,
    )
    signature = key.sign(signing_payload(plain, fields))
    seal = Seal(**fields.model_dump(), signature=base64.b64encode(signature).decode("ascii"))
    sealed = SealedDocument(document=plain, seal=seal)
    _log.info("seal.stamped", owner=owner, seal_id=seal.seal_id, fingerprint=seal.fingerprint)
    return sealed


def _invalid(
    code: VerificationCode,
    reason: str,
    seal: SealFields | None = None,
    *,
    claimed: Mapping[str, str | None] | None = None,
) -> SealVerification:
    if seal is not None:
        claimed = {"owner": seal.owner, "seal_id": seal.seal_id, "fingerprint": seal.fingerprint}
    claimed = claimed or {}
    _log.warning("seal.invalid", code=code, **claimed)
    return SealVerification(valid=False, code=code, reason=reason, **claimed)


def _claimed(raw: object) -> dict[str, str | None]:
    """Owner, seal id and fingerprint a malformed seal claims, for the report (strings only)."""
    seal = raw.get("seal") if isinstance(raw, Mapping) else None
    if not isinstance(seal, Mapping):
        return {"owner": None, "seal_id": None, "fingerprint": None}

    def text(key: str) -> str | None:
        value = seal.get(key)
        return value if isinstance(value, str) else None

    return {"owner": text("owner"), "seal_id": text("sealId"), "fingerprint": text("fingerprint")}


def _lookup(keys: PublicKeyLookup, owner: str) -> Ed25519PublicKey:
    if callable(keys):
        return keys(owner)
    return keys.public_key(owner)


def _decode_signature(text: str) -> bytes | None:
    """The signature bytes, or None unless ``text`` is canonical padded base64 of exactly 64 bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    if len(raw) != _SIGNATURE_BYTES or base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def verify(
    sealed: SealedDocument | Mapping[str, Any] | str | bytes,
    keys: PublicKeyLookup,
    *,
    expected_owner: str | None = None,
    expected_kind: SealOwnerKind | None = None,
) -> SealVerification:
    """Check a sealed document (a model, its parsed JSON, or JSON text) against registered public keys.

    Invalid when it is not a sealed document, the seal id does not match owner and kind, the owner (or
    kind) is not the expected one, the owner has no registered key, the seal's fingerprint is not that of
    the owner's registered key, the signature is malformed, or the document or any seal field was changed.
    Raises only when a key file exists but cannot be used (SealKeyError), which is not the case's fault.
    """
    if isinstance(sealed, SealedDocument):
        model = sealed
    else:
        raw: object = None
        try:
            raw = parse_json(sealed) if isinstance(sealed, str | bytes) else sealed
            model = SealedDocument.model_validate(raw)
        except (TypeError, ValueError, ValidationError, RecursionError):
            return _invalid(
                "malformed",
                "这不是一份完整的电子签章文件（JSON 格式或字段有误）。"
                "This is not a well-formed sealed document (bad JSON, missing, extra or malformed fields).",
                claimed=_claimed(raw),
            )

    seal = model.seal
    if seal.seal_id != seal_id(seal.owner_kind, seal.owner):
        return _invalid(
            "seal-id-mismatch",
            f"印章编号 {seal.seal_id} 与印章所有者 {seal.owner}（{seal.owner_kind}）不符。"
            f"The seal id {seal.seal_id} does not match the owner {seal.owner} ({seal.owner_kind}).",
            seal,
        )
    if expected_owner is not None and seal.owner != expected_owner:
        return _invalid(
            "owner-mismatch",
            f"印章所有者为 {seal.owner}，而不是应当盖章的 {expected_owner}。"
            f"The seal belongs to {seal.owner}, not to the expected owner {expected_owner}.",
            seal,
        )
    if expected_kind is not None and seal.owner_kind != expected_kind:
        return _invalid(
            "owner-mismatch",
            f"印章类别为 {seal.owner_kind}，而不是应当的 {expected_kind}。"
            f"The seal is a {seal.owner_kind} seal, not a {expected_kind} seal as expected.",
            seal,
        )
    try:
        registered = _lookup(keys, seal.owner)
    except SealKeyNotFoundError:
        return _invalid(
            "unknown-owner",
            f"印章所有者 {seal.owner} 没有登记公钥，无法核验。"
            f"No public key is registered for the seal owner {seal.owner}; the seal cannot be trusted.",
            seal,
        )
    if fingerprint(registered) != seal.fingerprint:
        return _invalid(
            "fingerprint-mismatch",
            f"印章的密钥指纹与 {seal.owner} 登记的公钥不符，印章不是用其登记的密钥加盖的。"
            f"The seal's key fingerprint is not that of the registered key of {seal.owner}; "
            "the seal was not made with the owner's key.",
            seal,
        )
    signature = _decode_signature(seal.signature)
    if signature is None:
        return _invalid(
            "bad-signature",
            "签名格式有误（应为 64 字节的标准 base64 编码）。"
            "The signature is malformed (expected canonical base64 of 64 bytes).",
            seal,
        )
    try:
        document = _json_value(model.document, "document", large_ints="as-double")
        payload = _canonical({"document": document, "seal": seal.signed_content()})
    except (TypeError, ValueError, RecursionError):
        return _invalid(
            "malformed",
            "文件内容不是合法的 JSON 数据，无法核验。"
            "The document content is not plain JSON data and cannot be checked.",
            seal,
        )
    try:
        registered.verify(signature, payload)
    except InvalidSignature:
        return _invalid(
            "signature-mismatch",
            "签名与文件内容不符：盖章后文件或印章信息被改动。"
            "The signature does not match: the document or the seal was changed after stamping.",
            seal,
        )
    _log.info("seal.verified", owner=seal.owner, seal_id=seal.seal_id, fingerprint=seal.fingerprint)
    return SealVerification(
        valid=True,
        code="valid",
        reason=f"{seal.owner_name}的电子印章有效。The seal of {seal.owner} is valid.",
        owner=seal.owner,
        seal_id=seal.seal_id,
        fingerprint=seal.fingerprint,
    )


# --------------------------------------------------------------------------------------------------
# Document numbers and the document store
# --------------------------------------------------------------------------------------------------


def document_number(prefix: str, case_number: str, kind: DocumentKind | str) -> str:
    """``<prefix>-<kind code>-<case number>``, e.g. ``XJ-JD-XJ20210628001`` for a decision of 西集镇.

    Deterministic in its arguments, so a redelivered job numbers its document the same way. Kind codes are
    :data:`DOCUMENT_KIND_CODES`; ``prefix`` is uppercase (a case prefix such as ``XJ`` or ``RS``); the case
    number may hold letters, digits, ``-`` and ``_`` (document numbers name files).
    """
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"invalid document number prefix {prefix!r}: expected 1-8 uppercase letters/digits")
    if not isinstance(case_number, str) or not _CASE_NUMBER_RE.fullmatch(case_number):
        raise ValueError(
            f"invalid case number {case_number!r}: expected letters, digits, '-' and '_' (at most 100)"
        )
    code = DOCUMENT_KIND_CODES.get(kind)
    if code is None:
        raise ValueError(f"unknown document kind {kind!r}; known: {', '.join(DOCUMENT_KIND_CODES)}")
    return f"{prefix}-{code}-{case_number}"


class DocumentNotFoundError(LookupError):
    """No sealed document is stored under that job key or document number."""


def _check_document_no(document_no: str) -> str:
    if not isinstance(document_no, str) or not _DOCUMENT_NO_RE.fullmatch(document_no):
        raise ValueError(
            f"invalid document number {document_no!r}: expected letters, digits, '-' and '_' (at most 200)"
        )
    return document_no


def _check_job_key(job_key: int) -> int:
    if isinstance(job_key, bool) or not isinstance(job_key, int) or job_key <= 0:
        raise ValueError(f"invalid job key {job_key!r}: expected a positive integer")
    return job_key


class DocumentStore:
    """Sealed documents as files, written once per job (Zeebe delivers a job at least once).

    Layout (directories 0700, files 0600, since documents hold personal data)::

        <dir>/<job key>.json                      the sealed document (SealedDocument.to_json)
        <dir>/by-number/<document no>/<job key>   an empty marker: that job's document has this number

    A document number may be issued again by a later job of the same case (e.g. a town re-seals its
    opinion after the district returned it): :meth:`load` returns the one signed last.
    """

    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)

    @property
    def directory(self) -> Path:
        """Where the documents are stored."""
        return self._dir

    def _path(self, job_key: int) -> Path:
        return self._dir / f"{_check_job_key(job_key)}.json"

    def save(self, job_key: int, sealed: SealedDocument) -> SealedDocument:
        """Store the document of this job unless it is stored already; return the stored document.

        On a redelivered job this returns the document the first delivery stored (same signature, same
        time), not ``sealed``. The document must carry a ``documentNo`` (see :func:`document_number`).
        """
        path = self._path(job_key)
        document_no = sealed.document_no
        if document_no is None:
            raise ValueError("a stored sealed document must carry its number in document.documentNo")
        _check_document_no(document_no)
        ensure_private_dir(self._dir)
        if create_exclusive(path, sealed.to_json().encode("utf-8"), mode=0o600):
            stored = sealed
            event = "seal.document_saved"
        else:
            stored = self.load_by_job(job_key)
            event = "seal.document_redelivered"
        # The marker is written after the document, and again on a redelivery, so a crash between the two
        # writes is repaired by the retry.
        stored_no = stored.document_no or document_no
        number_dir = self._dir / "by-number" / _check_document_no(stored_no)
        ensure_private_dir(number_dir.parent)
        ensure_private_dir(number_dir)
        create_exclusive(number_dir / str(job_key), b"", mode=0o600)
        _log.info(event, job_key=job_key, document_no=stored_no, seal_id=stored.seal.seal_id)
        return stored

    def load_by_job(self, job_key: int) -> SealedDocument:
        """The document stored by this job; DocumentNotFoundError if none."""
        path = self._path(job_key)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise DocumentNotFoundError(f"no sealed document stored for job {job_key} ({path})") from None
        return SealedDocument.from_json(text)

    def load(self, document_no: str) -> SealedDocument:
        """The last signed document with this number; DocumentNotFoundError if none."""
        number_dir = self._dir / "by-number" / _check_document_no(document_no)
        job_keys = (
            sorted(int(entry.name) for entry in number_dir.iterdir() if entry.name.isdigit())
            if number_dir.is_dir()
            else []
        )
        if not job_keys:
            raise DocumentNotFoundError(f"no sealed document with number {document_no} in {self._dir}")
        documents = [(self.load_by_job(key), key) for key in job_keys]
        latest, _ = max(documents, key=lambda pair: (pair[0].seal.signed_at_datetime, pair[1]))
        return latest

    def __repr__(self) -> str:
        return f"DocumentStore({os.fspath(self._dir)!r})"
