"""Pydantic models of electronic seals (电子印章): a seal, a sealed document, a verification outcome.

A sealed document on disk and in messages is ``{"document": {...}, "seal": {...}}`` with camelCase keys::

    {
      "document": {"documentNo": "XJ-JD-XJ20210628001", ...},
      "seal": {
        "sealId": "seal:town:xiji", "owner": "xiji", "ownerName": "西集镇", "ownerKind": "town",
        "fingerprint": "<64 hex digits>", "signedAt": "2021-07-01T02:30:00Z", "algorithm": "Ed25519",
        "signature": "<base64 of 64 bytes>"
      }
    }

The signature covers the RFC 8785 canonical JSON of the same object without ``seal.signature`` (see
:func:`workers.seal.service.signing_payload`), so key order and whitespace of the file do not matter, but
every value does. Seal fields are kept as the exact strings that were signed (``signedAt`` is not
re-formatted on load), so a document read back from JSON verifies exactly as written.
"""

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "ALGORITHM",
    "DOCUMENT_KIND_NAMES",
    "MAX_SAFE_INTEGER",
    "OWNER_CODE_PATTERN",
    "DocumentKind",
    "Seal",
    "SealFields",
    "SealOwnerKind",
    "SealReference",
    "SealVerification",
    "SealedDocument",
    "VerificationCode",
    "parse_json",
    "seal_id",
]

#: The only signature algorithm: pure Ed25519 (RFC 8032) over the canonical payload.
ALGORITHM: Final = "Ed25519"
#: Seal owners are towns (``xiji``) and district departments (``rsj``); the code names the key files.
OWNER_CODE_PATTERN: Final = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
#: RFC 8785 / I-JSON numbers are IEEE doubles: integers beyond ±(2**53 - 1) do not survive a round trip.
MAX_SAFE_INTEGER: Final = 2**53 - 1

#: Who owns a seal: a 双十镇 town or a district department.
SealOwnerKind = Literal["town", "district"]
#: Which document a seal is put on: a decision (决定书), a town's review opinion (审核意见) or a rejection.
DocumentKind = Literal["decision", "opinion", "rejection"]
#: Chinese titles of the document kinds.
DOCUMENT_KIND_NAMES: Final[Mapping[str, str]] = {
    "decision": "决定书",
    "opinion": "审核意见",
    "rejection": "不予受理决定书",
}

#: Outcome of a verification: ``valid`` or what was wrong.
VerificationCode = Literal[
    "valid",
    "malformed",  # not a sealed document: bad JSON, missing or extra fields, bad field formats
    "seal-id-mismatch",  # sealId is not seal:<ownerKind>:<owner>
    "owner-mismatch",  # a seal of another owner (or owner kind) than the one expected
    "unknown-owner",  # no public key is registered for the owner
    "fingerprint-mismatch",  # the seal names a key that is not the owner's registered key
    "bad-signature",  # the signature is not canonical base64 of 64 bytes
    "signature-mismatch",  # the document or a seal field was changed after stamping
]

OwnerCode = Annotated[StrictStr, Field(pattern=OWNER_CODE_PATTERN, max_length=64)]
Text = Annotated[StrictStr, Field(min_length=1)]
Fingerprint = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]


def seal_id(owner_kind: SealOwnerKind, owner: str) -> str:
    """The id of an owner's seal: ``seal:town:xiji``, ``seal:district:rsj``."""
    return f"seal:{owner_kind}:{owner}"


class _Model(BaseModel):
    """Base of the seal models: immutable, camelCase aliases, unknown keys rejected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class SealFields(_Model):
    """The seal's metadata: everything of a seal except the signature, and all of it signed."""

    seal_id: StrictStr
    owner: OwnerCode
    owner_name: Text
    owner_kind: SealOwnerKind
    #: SHA-256 of the raw 32-byte Ed25519 public key, lowercase hex (see ``workers.seal.keys.fingerprint``).
    fingerprint: Fingerprint
    #: ISO 8601 with an offset, exactly as signed (``stamp`` writes UTC with ``Z``).
    signed_at: StrictStr
    algorithm: Literal["Ed25519"]

    @field_validator("signed_at")
    @classmethod
    def _aware_timestamp(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("signedAt must be an ISO 8601 date-time") from None
        if parsed.utcoffset() is None:
            raise ValueError("signedAt must carry a UTC offset")
        return value

    @property
    def signed_at_datetime(self) -> datetime:
        """``signed_at`` as an aware datetime."""
        return datetime.fromisoformat(self.signed_at)

    def signed_content(self) -> dict[str, str]:
        """The seal fields as they enter the signature (camelCase keys)."""
        return self.model_dump(by_alias=True, include=set(SealFields.model_fields))


class Seal(SealFields):
    """A seal on a document: its metadata and the base64 Ed25519 signature (standard alphabet, padded)."""

    signature: StrictStr


class SealedDocument(_Model):
    """A document and the seal over it; ``to_json``/``from_json`` are the file format."""

    document: dict[str, Any]
    seal: Seal

    @property
    def document_no(self) -> str | None:
        """The document number (``document.documentNo``) when the document carries one."""
        value = self.document.get("documentNo")
        return value if isinstance(value, str) else None

    def to_json(self) -> str:
        """Readable JSON (indented, Chinese as is); the signature does not depend on the layout."""
        data = self.model_dump(mode="json", by_alias=True)
        return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> "SealedDocument":
        """Parse a sealed document; ValueError (or pydantic's ValidationError) when it is not one.

        Parsing is strict where JSON parsers differ: duplicate keys, ``NaN``/``Infinity`` and numbers that
        overflow a double are refused; integers beyond ±(2**53 - 1) are read as doubles, as RFC 8785 does.
        """
        return cls.model_validate(parse_json(text))

    def reference(self) -> "SealReference":
        """What a process variable may carry about this document (never its content)."""
        return SealReference(
            document_no=self.document_no,
            seal_id=self.seal.seal_id,
            seal_owner=self.seal.owner,
            seal_fingerprint=self.seal.fingerprint,
            signed_at=self.seal.signed_at,
        )


class SealReference(_Model):
    """Process variables about a sealed document: the number and the seal, not the content."""

    document_no: StrictStr | None
    seal_id: StrictStr
    seal_owner: StrictStr
    seal_fingerprint: StrictStr
    signed_at: StrictStr


class SealVerification(_Model):
    """The outcome of checking a seal; ``reason`` is one sentence in Chinese and one in English.

    ``owner``, ``seal_id`` and ``fingerprint`` are what the seal claims (None when it could not be read).
    """

    valid: StrictBool
    code: VerificationCode
    reason: StrictStr
    owner: StrictStr | None = None
    seal_id: StrictStr | None = None
    fingerprint: StrictStr | None = None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in JSON object")
        result[key] = value
    return result


def _parse_int(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INTEGER else _parse_float(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("JSON number outside the range of a double")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str | bytes) -> Any:
    """JSON as RFC 8785 reads it: no duplicate keys, no NaN/Infinity, large integers as doubles."""
    return json.loads(
        text,
        object_pairs_hook=_no_duplicate_keys,
        parse_int=_parse_int,
        parse_float=_parse_float,
        parse_constant=_refuse_constant,
    )
