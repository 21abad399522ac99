"""Electronic seals (电子印章): Ed25519 seals of towns and district departments on JSON documents.

``keys`` holds the owners' key pairs (generated in development, mounted files in production), ``service``
stamps and verifies (见章发证) and stores sealed documents idempotently per job, ``models`` is the file
format. Nothing here imports pyzeebe; nothing here logs document contents.
"""

from workers.seal.keys import (
    InsecureKeyFileError,
    KeyStore,
    PublicKeyLookup,
    PublicKeySource,
    SealKeyError,
    SealKeyNotFoundError,
    SigningKeySource,
    fingerprint,
)
from workers.seal.models import (
    DOCUMENT_KIND_NAMES,
    DocumentKind,
    Seal,
    SealedDocument,
    SealFields,
    SealOwnerKind,
    SealReference,
    SealVerification,
    VerificationCode,
    seal_id,
)
from workers.seal.service import (
    DOCUMENT_KIND_CODES,
    DocumentNotFoundError,
    DocumentStore,
    OwnerDirectory,
    SealOwner,
    document_number,
    seal_owner,
    signing_payload,
    stamp,
    verify,
)

__all__ = [
    "DOCUMENT_KIND_CODES",
    "DOCUMENT_KIND_NAMES",
    "DocumentKind",
    "DocumentNotFoundError",
    "DocumentStore",
    "InsecureKeyFileError",
    "KeyStore",
    "OwnerDirectory",
    "PublicKeyLookup",
    "PublicKeySource",
    "Seal",
    "SealFields",
    "SealKeyError",
    "SealKeyNotFoundError",
    "SealOwner",
    "SealOwnerKind",
    "SealReference",
    "SealVerification",
    "SealedDocument",
    "SigningKeySource",
    "VerificationCode",
    "document_number",
    "fingerprint",
    "seal_id",
    "seal_owner",
    "signing_payload",
    "stamp",
    "verify",
]
