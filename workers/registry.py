"""The one list of job types the workers serve and BPMN error codes they throw.

Every ``zeebe:taskDefinition type`` in ``bpmn/`` must name a member of ``JobType`` and every member
must have a handler; a contract test checks both directions. Business outcomes are BPMN errors with
a code from ``ErrorCode``; anything else fails the job (retries, then an incident).
"""

from enum import StrEnum


class JobType(StrEnum):
    CASE_REGISTER = "case.register"  # 办件编号, ledger case opened
    APPLICATION_VALIDATE = "application.validate"  # materials and field rules
    SLA_SCHEDULE = "sla.schedule"  # working-day deadlines (yellow warning, red overdue)
    SEAL_STAMP = "seal.stamp"  # electronic seal on a decision, opinion or rejection
    SEAL_VERIFY = "seal.verify"  # 见章发证: the district checks the town's seal
    CASE_FORWARD = "case.forward"  # town → district hand-over
    APPLICANT_NOTIFY = "applicant.notify"  # SMS / email / outbox from a template
    STAFF_ALERT = "staff.alert"  # overdue warnings to supervisors
    LEDGER_RECORD = "ledger.record"  # 工作台账 event


class ErrorCode(StrEnum):
    MATERIALS_INCOMPLETE = "MATERIALS_INCOMPLETE"  # → 一次性告知 notice and 补正 wait
    APPLICATION_INVALID = "APPLICATION_INVALID"  # → 不予受理 with reasons
    SEAL_INVALID = "SEAL_INVALID"  # the town's seal does not verify → returned to the town
    EVENT_ALREADY_RECORDED = "EVENT_ALREADY_RECORDED"  # ledger.record oncePerCase: the case has it already
