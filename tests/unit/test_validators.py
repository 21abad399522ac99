"""Identifier checks: resident ID numbers, credit codes, mobile numbers, names, masking.

Every valid example is built here from made-up parts (region, birth date, sequence; department, division,
organisation code body) with a check character computed by this file's own arithmetic, so the tests do
not reuse the implementation's tables and no real person's number appears.
"""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.domain.validators import (
    check_credit_code,
    check_email,
    check_id_number,
    check_mobile,
    check_person_name,
    credit_code_check_char,
    id_number_check_digit,
    is_valid_credit_code,
    is_valid_email,
    is_valid_id_number,
    is_valid_mobile,
    is_valid_person_name,
    mask_id_number,
    mask_phone,
    normalize_credit_code,
    normalize_id_number,
    normalize_mobile,
    normalize_person_name,
    organisation_code_check_char,
    rule_of,
)

TODAY = date(2025, 1, 1)

# --------------------------------------------------------------------------------------------------
# Independent generators
# --------------------------------------------------------------------------------------------------


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """An ID number with its ISO 7064 MOD 11-2 check character: (12 - Σ aᵢ·2^(17-i) mod 11) mod 11."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    total = sum(int(digit) * 2 ** (17 - position) for position, digit in enumerate(body))
    check = (12 - total % 11) % 11
    return body + ("X" if check == 10 else str(check))


CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_organisation_code(body: str) -> str:
    """An 8-character body plus its GB 11714 check character: 11 - Σ cᵢ·wᵢ mod 11, 10 → X, 11 → 0."""
    values = [int(char) if char.isdigit() else ord(char) - 55 for char in body]
    remainder = 11 - sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(remainder, str(remainder))


def make_credit_code(department: str, org_type: str, division: str, org_body: str) -> str:
    """A credit code with its GB 32100 check character: 31 - Σ cᵢ·wᵢ mod 31 (31 → 0)."""
    body = department + org_type + division + make_organisation_code(org_body)
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    remainder = 31 - sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(body, weights, strict=True)) % 31
    return body + CREDIT_ALPHABET[remainder % 31]


def rules(problems: list[str]) -> set[str]:
    """The rule identifiers of a list of problems."""
    return {rule_of(problem) for problem in problems}


VALID_ID = make_id_number("370406", date(1985, 3, 12), 1)  # 山亭区, made-up birth date and sequence
VALID_CREDIT = make_credit_code("9", "1", "370406", "MA3C4D5E")

PROVINCES = ["11", "13", "23", "37", "44", "46", "50", "54", "65", "71", "81", "82"]
ORGANISATION_TYPES = [("1", "1"), ("1", "2"), ("5", "1"), ("5", "3"), ("9", "1"), ("9", "2"), ("9", "3")]
ORGANISATION_TYPES += [("Y", "1"), ("N", "2"), ("3", "5"), ("A", "1"), ("8", "9")]

id_numbers = st.builds(
    make_id_number,
    region=st.builds(
        lambda p, rest: p + rest, st.sampled_from(PROVINCES), st.from_regex(r"[0-9]{4}", fullmatch=True)
    ),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    sequence=st.integers(min_value=0, max_value=999),
)
credit_codes = st.builds(
    lambda pair, division, org_body: make_credit_code(pair[0], pair[1], division, org_body),
    st.sampled_from(ORGANISATION_TYPES),
    st.builds(
        lambda p, rest: p + rest, st.sampled_from(PROVINCES), st.from_regex(r"[0-9]{4}", fullmatch=True)
    ),
    st.text(alphabet=CREDIT_ALPHABET, min_size=8, max_size=8),
)

# --------------------------------------------------------------------------------------------------
# 居民身份证号
# --------------------------------------------------------------------------------------------------


def test_generated_id_number_is_valid() -> None:
    """A number built from a region, a birth date and a sequence with its check digit is valid."""
    assert check_id_number(VALID_ID, today=TODAY) == []
    assert is_valid_id_number(VALID_ID, today=TODAY)


def test_hand_computed_check_digit() -> None:
    """The check digit of 37040219850312001 is 8 (weighted sum 235, 235 mod 11 = 4 → 8)."""
    assert id_number_check_digit("37040219850312001") == "8"


def test_lowercase_x_is_accepted_and_normalised() -> None:
    """A number whose check character is X is valid with a lower-case x, and normalises to upper case."""
    number = next(
        n for n in (make_id_number("110105", date(1990, 7, 1), s) for s in range(1000)) if n.endswith("X")
    )
    lower = number[:-1] + "x"
    assert check_id_number(lower, today=TODAY) == []
    assert normalize_id_number(f" {lower} ") == number


def test_id_number_wrong_length() -> None:
    """A 17-character value fails the length rule and says how long it is."""
    (problem,) = check_id_number(VALID_ID[:-1], today=TODAY)
    assert rule_of(problem) == "id_number.length"
    assert "17" in problem


def test_id_number_non_digit_characters() -> None:
    """Letters inside the first 17 characters fail the characters rule."""
    problems = check_id_number("3704061985A312001" + VALID_ID[-1], today=TODAY)
    assert rules(problems) == {"id_number.characters"}
    assert "A" in problems[0]


def test_id_number_bad_check_digit_says_expected_and_got() -> None:
    """A wrong last digit fails the check-digit rule, naming the expected and the given character."""
    wrong = "0" if VALID_ID[-1] != "0" else "1"
    (problem,) = check_id_number(VALID_ID[:-1] + wrong, today=TODAY)
    assert rule_of(problem) == "id_number.check_digit"
    assert f"expected {VALID_ID[-1]}, got {wrong}" in problem


def test_id_number_february_30_is_impossible() -> None:
    """A birth date of 30 February fails the birth-date rule even with a correct check digit."""
    body = "370406" + "19850230" + "001"
    number = body + id_number_check_digit(body)
    assert rules(check_id_number(number, today=TODAY)) == {"id_number.birth_date"}


def test_id_number_future_birth_date() -> None:
    """A birth date after today fails the future-birth-date rule."""
    number = make_id_number("370406", date(2025, 1, 2), 1)
    assert rules(check_id_number(number, today=TODAY)) == {"id_number.birth_date_future"}


def test_id_number_birth_before_1900() -> None:
    """A birth date before 1900 fails its own rule."""
    number = make_id_number("370406", date(1899, 12, 31), 1)
    assert rules(check_id_number(number, today=TODAY)) == {"id_number.birth_date_too_early"}


def test_id_number_unknown_region() -> None:
    """A first-two-digit region that is not a GB/T 2260 province fails the region rule."""
    number = make_id_number("990101", date(1985, 3, 12), 1)
    (problem,) = check_id_number(number, today=TODAY)
    assert rule_of(problem) == "id_number.region"
    assert "99" in problem


def test_id_number_default_today_is_now() -> None:
    """Without ``today`` a birth date far in the future is still rejected."""
    assert "id_number.birth_date_future" in rules(
        check_id_number(make_id_number("370406", date(2999, 1, 1), 1))
    )


@pytest.mark.parametrize("body", ["", "1234", "3704061985031200X", "370406198503120011"])
def test_id_number_check_digit_rejects_bad_bodies(body: str) -> None:
    """The check-digit helper only accepts exactly 17 digits."""
    with pytest.raises(ValueError, match="17"):
        id_number_check_digit(body)


@given(id_numbers)
def test_any_generated_id_number_passes(number: str) -> None:
    """Every number built with a correct check digit from a valid region and birth date is valid."""
    assert check_id_number(number, today=TODAY) == []


@given(id_numbers, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_changing_one_character_of_an_id_number_fails(number: str, position: int, replacement: str) -> None:
    """Changing any single character is caught; a digit changed for a digit breaks the check digit."""
    if number[position] == replacement:
        replacement = "0" if replacement != "0" else "1"
    changed = number[:position] + replacement + number[position + 1 :]
    problems = check_id_number(changed, today=TODAY)
    assert problems
    if replacement != "X" or position == 17:
        assert "id_number.check_digit" in rules(problems)


# --------------------------------------------------------------------------------------------------
# 统一社会信用代码
# --------------------------------------------------------------------------------------------------


def test_generated_credit_code_is_valid() -> None:
    """A code built from department 9, type 1, division 370406 and a made-up organisation code is valid."""
    assert check_credit_code(VALID_CREDIT) == []
    assert is_valid_credit_code(VALID_CREDIT)


def test_check_char_helpers_agree_with_the_generator() -> None:
    """The library's check-character helpers compute the same characters as this file's arithmetic."""
    assert organisation_code_check_char(VALID_CREDIT[8:16]) == VALID_CREDIT[16]
    assert credit_code_check_char(VALID_CREDIT[:17]) == VALID_CREDIT[17]


def test_credit_code_with_17_characters() -> None:
    """A 17-character code fails the length rule and says how long it is."""
    (problem,) = check_credit_code(VALID_CREDIT[:17])
    assert rule_of(problem) == "credit_code.length"
    assert "17" in problem


def test_credit_code_with_letter_i() -> None:
    """The letter I is not in the GB 32100 alphabet and fails the illegal-character rule."""
    code = VALID_CREDIT[:10] + "I" + VALID_CREDIT[11:]
    (problem,) = check_credit_code(code)
    assert rule_of(problem) == "credit_code.characters"
    assert "'I'" in problem


@pytest.mark.parametrize("letter", ["O", "Z", "S", "V", "a", "-"])
def test_credit_code_other_illegal_characters(letter: str) -> None:
    """O, Z, S, V, lower-case letters and punctuation are illegal characters."""
    code = VALID_CREDIT[:12] + letter + VALID_CREDIT[13:]
    assert rules(check_credit_code(code)) == {"credit_code.characters"}


def test_credit_code_bad_check_char_says_expected_and_got() -> None:
    """A wrong 18th character fails the check-character rule, naming expected and given characters."""
    wrong = "0" if VALID_CREDIT[-1] != "0" else "1"
    (problem,) = check_credit_code(VALID_CREDIT[:-1] + wrong)
    assert rule_of(problem) == "credit_code.check_char"
    assert f"expected {VALID_CREDIT[-1]}, got {wrong}" in problem


def test_credit_code_bad_organisation_code_check() -> None:
    """A wrong organisation-code check character fails that rule even when the final check is right."""
    wrong = "0" if VALID_CREDIT[16] != "0" else "1"
    body = VALID_CREDIT[:16] + wrong
    problems = check_credit_code(body + credit_code_check_char(body))
    assert rules(problems) == {"credit_code.organisation_code_check"}
    assert f"should end in {VALID_CREDIT[16]}, got {wrong}" in problems[0]


def test_credit_code_unknown_department() -> None:
    """A registration management department code outside the table fails the department rule."""
    body = "B1370406" + make_organisation_code("MA3C4D5E")
    assert rules(check_credit_code(body + credit_code_check_char(body))) == {"credit_code.department"}


@pytest.mark.parametrize(("department", "org_type"), [("9", "9"), ("Y", "2"), ("5", "4")])
def test_credit_code_type_not_defined_for_department(department: str, org_type: str) -> None:
    """An organisation type code the department does not define fails the organisation-type rule."""
    code = make_credit_code(department, org_type, "370406", "MA3C4D5E")
    assert rules(check_credit_code(code)) == {"credit_code.organisation_type"}


def test_credit_code_central_division_is_accepted() -> None:
    """Organisations registered at the central level carry division 100000."""
    assert check_credit_code(make_credit_code("1", "1", "100000", "00001234")) == []


def test_credit_code_bad_division() -> None:
    """A division whose first two digits are no province fails the division rule."""
    code = make_credit_code("9", "1", "990000", "MA3C4D5E")
    assert rules(check_credit_code(code)) == {"credit_code.division"}


def test_credit_code_normalisation() -> None:
    """Normalisation strips whitespace and upper-cases."""
    assert normalize_credit_code(f"  {VALID_CREDIT.lower()} ") == VALID_CREDIT


@pytest.mark.parametrize("body", ["", "91370406MA3C4D5E", "91370406MA3C4D5EI"])
def test_credit_check_char_rejects_bad_bodies(body: str) -> None:
    """The check-character helper only accepts 17 characters of the code alphabet."""
    with pytest.raises(ValueError, match="17"):
        credit_code_check_char(body)


def test_organisation_check_char_rejects_bad_bodies() -> None:
    """The organisation-code helper only accepts 8 digits or letters."""
    with pytest.raises(ValueError, match="8"):
        organisation_code_check_char("1234567")
    with pytest.raises(ValueError, match="organisation code character"):
        organisation_code_check_char("1234567-")


@given(credit_codes)
def test_credit_codes_from_random_bodies_pass(code: str) -> None:
    """Every code built from a valid department/type pair, division and organisation body is valid."""
    assert check_credit_code(code) == []


@given(credit_codes, st.integers(min_value=0, max_value=17), st.sampled_from(CREDIT_ALPHABET + "IOZSV"))
def test_changing_one_character_of_a_credit_code_fails(code: str, position: int, replacement: str) -> None:
    """Changing any single character is caught; within the alphabet it always breaks the check character."""
    if code[position] == replacement:
        replacement = "0" if replacement != "0" else "1"
    changed = code[:position] + replacement + code[position + 1 :]
    problems = check_credit_code(changed)
    assert problems
    if replacement in CREDIT_ALPHABET:
        assert "credit_code.check_char" in rules(problems)


# --------------------------------------------------------------------------------------------------
# Mobile numbers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "8613812345678", "0086 19912345678"]
)
def test_mobile_numbers_with_prefix_and_separators(value: str) -> None:
    """Country prefixes, spaces and hyphens are normalised away before checking."""
    assert check_mobile(value) == []
    assert is_valid_mobile(value)
    assert len(normalize_mobile(value)) == 11


def test_mobile_with_12_digits() -> None:
    """A 12-digit number fails the length rule and says how long it is."""
    (problem,) = check_mobile("138123456789")
    assert rule_of(problem) == "mobile.length"
    assert "12" in problem


@pytest.mark.parametrize("value", ["12812345678", "10012345678", "23812345678"])
def test_mobile_bad_prefix(value: str) -> None:
    """A number not starting with 13-19 fails the prefix rule."""
    assert rules(check_mobile(value)) == {"mobile.prefix"}


def test_mobile_with_letters() -> None:
    """Letters fail the characters rule."""
    assert rules(check_mobile("138abcd5678")) == {"mobile.characters"}


# --------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["张三", "欧阳娜娜", "阿卜杜热西提·扎克尔", "买买提·艾力·吐尔逊", "王𠀀", "李䶮"]
)
def test_valid_names(name: str) -> None:
    """Two or more ideographs, rare extension characters and inner middle dots are accepted."""
    assert check_person_name(name) == []
    assert is_valid_person_name(name)


def test_name_with_digits() -> None:
    """Digits fail the digits rule."""
    assert rules(check_person_name("张3")) == {"name.digits"}


def test_name_with_latin_letters() -> None:
    """Latin letters, including full-width ones, fail the Latin rule."""
    assert rules(check_person_name("张San")) == {"name.latin"}
    assert rules(check_person_name("张Ｓ")) == {"name.latin"}


def test_name_with_whitespace() -> None:
    """Whitespace inside a name fails the whitespace rule."""
    assert rules(check_person_name("张 三")) == {"name.whitespace"}


@pytest.mark.parametrize("name", ["·张三", "张三·"])
def test_middle_dot_at_start_or_end(name: str) -> None:
    """A middle dot may not start or end a name."""
    assert rules(check_person_name(name)) == {"name.middle_dot_position"}


def test_doubled_middle_dot() -> None:
    """Two middle dots in a row fail the doubled-dot rule."""
    assert rules(check_person_name("阿卜杜··扎克尔")) == {"name.middle_dot_doubled"}


@pytest.mark.parametrize(
    ("name", "rule"), [("张", "name.length"), ("张" * 21, "name.length"), ("张！", "name.characters")]
)
def test_name_length_and_other_characters(name: str, rule: str) -> None:
    """Names have 2-20 characters, and punctuation other than the middle dot is illegal."""
    assert rules(check_person_name(name)) == {rule}


def test_lookalike_dots_are_normalised() -> None:
    """•, ・ and ． typed for the middle dot are rejected as such but normalised to U+00B7."""
    assert rules(check_person_name("阿卜杜•扎克尔")) == {"name.characters"}
    for dot in "•・．":
        assert normalize_person_name(f" 阿卜杜{dot}扎克尔 ") == "阿卜杜·扎克尔"


# --------------------------------------------------------------------------------------------------
# E-mail, masking, rule identifiers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"), [("a@example.com", True), ("a@b", False), ("a b@c.cn", False), ("", False)]
)
def test_email(value: str, ok: bool) -> None:
    """E-mail addresses need one @, a dotted domain and no whitespace."""
    assert is_valid_email(value) is ok
    assert (check_email(value) == []) is ok


def test_mask_id_number_keeps_first_6_and_last_4() -> None:
    """An 18-character ID number keeps its region and last four characters, with 8 stars between."""
    assert mask_id_number(VALID_ID) == VALID_ID[:6] + "********" + VALID_ID[-4:]
    assert mask_id_number("12345") == "*****"


def test_mask_phone_keeps_first_3_and_last_4() -> None:
    """A mobile number keeps its first 3 and last 4 digits, also when written with a prefix."""
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("+86 138-1234-1234") == "138****1234"
    assert mask_phone("123") == "***"


def test_rule_of_plain_text() -> None:
    """Text without a leading [rule] has no rule."""
    assert rule_of("no rule here") == ""
