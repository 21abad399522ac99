"""pyzeebe handlers for ``seal.stamp`` and ``seal.verify`` (见章发证).

Task headers decide what is sealed and by whom: ``sealOwner=town|district`` (the town of the case, or
the district department of its item) and ``document=decision|opinion|rejection``. The sealed document
lives in the document store; the process carries only a reference (number, seal id, fingerprint).
"""

from typing import Any, Literal, cast

from pyzeebe import Job, ZeebeTaskRouter

from workers.case import service as case_service
from workers.case.models import CaseContext
from workers.registry import ErrorCode, JobType
from workers.runtime import BpmnError, Services, broker_now, header, run_blocking, task
from workers.seal import DocumentNotFoundError, SealedDocument, document_number, seal_owner, stamp, verify

CASE = ["caseNumber", "itemCode", "townCode", "counter", "departmentCode", "mode", "itemName"]
STAMP_VARIABLES = [
    *CASE,
    "conclusion",
    "conclusionReason",
    "opinionDecision",
    "opinionText",
    "opinion",
    "issueRemark",
]


def _seal_view(sealed: SealedDocument) -> dict[str, Any]:
    seal = sealed.seal
    return {
        "owner": seal.owner,
        "ownerName": seal.owner_name,
        "ownerKind": seal.owner_kind,
        "sealId": seal.seal_id,
        "fingerprint": seal.fingerprint,
        "signedAt": seal.signed_at,
    }


def stamp_document(services: Services, job: Job) -> dict[str, Any]:
    owner_kind = cast(Literal["town", "district"], header(job, "sealOwner", {"town", "district"}))
    kind = header(job, "document", {"decision", "opinion", "rejection"})
    case = CaseContext.model_validate(job.variables)
    variables = job.variables
    existing: SealedDocument | None
    try:
        existing = services.documents.load_by_job(job.key)
    except DocumentNotFoundError:
        existing = None
    if existing is None:
        code = case.town_code if owner_kind == "town" else case.department_code
        owner = seal_owner(services.catalog, owner_kind, code)
        prefix = (
            services.catalog.town(code).case_prefix
            if owner_kind == "town"
            else services.catalog.department(code).case_prefix
        )
        number = document_number(prefix, case.case_number, kind)
        body: dict[str, Any] = {
            "documentNo": number,
            "kind": kind,
            "caseNumber": case.case_number,
            "itemCode": case.item_code,
            "itemName": variables.get("itemName"),
            "townCode": case.town_code,
            "departmentCode": case.department_code,
            "counter": case.counter,
        }
        if kind == "opinion":
            body["approve"] = variables.get("opinionDecision") == "approve"
            body["text"] = variables.get("opinionText") or ""
        else:
            body["outcome"] = "approved" if kind == "decision" else "rejected"
            body["reason"] = variables.get("conclusionReason") or ""
            opinion = variables.get("opinion")
            if isinstance(opinion, dict) and owner_kind == "district":
                # 见章发证: the district's document rests on the town's sealed opinion, named here.
                body["basedOnOpinion"] = {k: opinion.get(k) for k in ("documentNo", "approve")}
                body["reason"] = opinion.get("text") or body["reason"]
                if variables.get("issueRemark"):
                    body["issueRemark"] = variables["issueRemark"]
        sealed = stamp(
            body,
            owner=owner.code,
            owner_name=owner.name,
            owner_kind=owner_kind,
            signed_at=broker_now(job),
            key_store=services.keys,
        )
        existing = services.documents.save(job.key, sealed)
    document = existing.document
    case_service.record(
        services.ledger,
        case,
        "sealed",
        broker_now(job),
        job.key,
        actor="seal.stamp",
        payload={
            "kind": kind,
            "documentNo": document["documentNo"],
            "sealId": existing.seal.seal_id,
            "fingerprint": existing.seal.fingerprint,
        },
    )
    if kind == "opinion":
        return {
            "opinion": {
                "approve": document["approve"],
                "text": document["text"],
                "documentNo": document["documentNo"],
                "seal": _seal_view(existing),
            }
        }
    return {
        "decision": {
            "kind": kind,
            "outcome": document["outcome"],
            "documentNo": document["documentNo"],
            "seal": _seal_view(existing),
        }
    }


def verify_opinion(services: Services, job: Job) -> dict[str, Any]:
    """The district checks the town's seal on the opinion; only a seal that fails may send the case back."""
    header(job, "document", {"opinion"})
    case = CaseContext.model_validate(job.variables)
    opinion = job.variables.get("opinion")
    if not isinstance(opinion, dict) or not opinion.get("documentNo"):
        raise BpmnError(
            ErrorCode.SEAL_INVALID, "no sealed opinion to verify", {"sealProblem": "缺少加盖镇章的审核意见"}
        )
    try:
        sealed = services.documents.load(str(opinion["documentNo"]))
    except DocumentNotFoundError:
        raise BpmnError(
            ErrorCode.SEAL_INVALID, "sealed opinion not found", {"sealProblem": "未找到镇级审核意见书"}
        ) from None
    result = verify(sealed, services.keys, expected_owner=case.town_code, expected_kind="town")
    if not result.valid:
        raise BpmnError(ErrorCode.SEAL_INVALID, result.reason, {"sealProblem": result.reason})
    case_service.record(
        services.ledger,
        case,
        "seal-verified",
        broker_now(job),
        job.key,
        actor="seal.verify",
        payload={"documentNo": opinion["documentNo"], "fingerprint": result.fingerprint},
    )
    return {"opinionSealVerified": True}


def create_router(services: Services) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(router, JobType.SEAL_STAMP, STAMP_VARIABLES)
    async def seal_stamp(job: Job) -> dict[str, Any]:
        result: dict[str, Any] = await run_blocking(stamp_document, services, job)
        return result

    @task(router, JobType.SEAL_VERIFY, [*CASE, "opinion"])
    async def seal_verify(job: Job) -> dict[str, Any]:
        result: dict[str, Any] = await run_blocking(verify_opinion, services, job)
        return result

    return router
