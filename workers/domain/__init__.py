"""Domain rules that do not depend on the catalog or the engine: identifier checks and masking."""

from workers.domain.validators import (
    check_credit_code,
    check_email,
    check_id_number,
    check_mobile,
    check_person_name,
    is_valid_credit_code,
    is_valid_email,
    is_valid_id_number,
    is_valid_mobile,
    is_valid_person_name,
    mask_id_number,
    mask_phone,
    rule_of,
)

__all__ = [
    "check_credit_code",
    "check_email",
    "check_id_number",
    "check_mobile",
    "check_person_name",
    "is_valid_credit_code",
    "is_valid_email",
    "is_valid_id_number",
    "is_valid_mobile",
    "is_valid_person_name",
    "mask_id_number",
    "mask_phone",
    "rule_of",
]
