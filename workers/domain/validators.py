"""Checks for the identifiers an applicant gives us, as pure functions.

Every ``check_<thing>(value)`` returns a list of problems, empty when the value is valid. Each problem is
one line of the form ``[<rule>] <中文说明> / <English explanation>``, where ``<rule>`` is a stable dotted
identifier of the rule that failed (for example ``id_number.check_digit``); :func:`rule_of` extracts it.
``is_valid_<thing>(value)`` is the boolean shortcut, ``normalize_<thing>(value)`` the canonical form that
the checks expect (the pydantic models normalise first, then check).

Standards implemented:

* 居民身份证号 — GB 11643-1999 (check digit per ISO 7064 MOD 11-2), region prefixes per GB/T 2260.
* 统一社会信用代码 — GB 32100-2015 (check character MOD 31, weights 3^i mod 31), with the registration
  management department / organisation type table as later extended by the code administration, and the
  embedded organisation code checked per GB 11714-1997.
* Mainland mobile numbers — 11 digits, ``1[3-9]`` prefix.
* Chinese personal names — CJK Unified Ideographs with the middle dot ``·`` (U+00B7) for
  ethnic-minority names.

``mask_id_number`` and ``mask_phone`` produce the forms that may appear in logs.
"""

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "CREDIT_CODE_ORGANISATION_TYPES",
    "PROVINCE_CODES",
    "check_credit_code",
    "check_email",
    "check_id_number",
    "check_mobile",
    "check_person_name",
    "credit_code_check_char",
    "id_number_check_digit",
    "is_valid_credit_code",
    "is_valid_email",
    "is_valid_id_number",
    "is_valid_mobile",
    "is_valid_person_name",
    "mask_id_number",
    "mask_phone",
    "normalize_credit_code",
    "normalize_id_number",
    "normalize_mobile",
    "normalize_person_name",
    "organisation_code_check_char",
    "rule_of",
]

#: China Standard Time; birth dates are judged by the calendar date in China, which has no DST.
_CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

#: First two digits of a GB/T 2260 administrative division code: the 34 provincial-level divisions
#: (71 台湾, 81 香港, 82 澳门), plus 83, which the 港澳台居民居住证 (residence permits for Taiwan residents,
#: issued in the same 18-digit format since 2018) use.
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip

#: ISO 7064 MOD 11-2 weights 2^(18-i) mod 11 for positions i = 1..17 of an ID number.
_ID_WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))
#: Check character by (weighted sum mod 11).
_ID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)
_DIGITS = "0123456789"

#: GB 32100-2015 code alphabet (no I, O, Z, S, V); a character's value is its index.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES: Mapping[str, int] = {char: index for index, char in enumerate(CREDIT_CODE_ALPHABET)}
#: Weights 3^(i-1) mod 31 for positions i = 1..17 of a credit code.
_CREDIT_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))

#: Registration management department code (position 1) → {organisation type code (position 2): meaning}.
#: 1, 5, 9 and Y come from GB 32100-2015 itself; the other departments were allocated later by the
#: national code administration and appear on codes issued since.
CREDIT_CODE_ORGANISATION_TYPES: Mapping[str, Mapping[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},  # 机构编制
    "2": {"1": "外国常驻新闻机构", "9": "其他"},  # 外交
    "3": {  # 司法行政
        "1": "律师执业机构",
        "2": "公证处",
        "3": "基层法律服务所",
        "4": "司法鉴定机构",
        "5": "仲裁委员会",
        "9": "其他",
    },
    "4": {"1": "外国在华文化中心", "9": "其他"},  # 文化
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},  # 民政
    "6": {  # 旅游
        "1": "外国旅游部门常驻代表机构",
        "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "9": "其他",
    },
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},  # 宗教
    "8": {"1": "基层工会", "9": "其他"},  # 工会
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},  # 工商（市场监管）
    "A": {"1": "军队事业单位", "9": "其他"},  # 中央军委改革和编制办公室
    "N": {  # 农业
        "1": "组级集体经济组织",
        "2": "村级集体经济组织",
        "3": "乡镇级集体经济组织",
        "9": "其他",
    },
    "Y": {"1": "其他"},  # 其他：不再细分机构类别，统一用 1
}
#: Division code of organisations registered at the central level.
_CENTRAL_DIVISION = "100000"

#: GB 11714-1997 organisation code weights for the 8 body characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_SEPARATORS = re.compile(r"[\s\-]+")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")

_MIDDLE_DOT = "\u00b7"
#: Characters people type instead of U+00B7 in minority names; normalize_person_name maps them.
_DOT_LOOKALIKES = "\u2022\u2027\u2219\u22c5\u30fb\uff0e\uff65"
_NAME_MIN, _NAME_MAX = 2, 20
#: Code point ranges with the Unicode property Unified_Ideograph (CJK Unified Ideographs, extensions
#: A-I, and the twelve unified ideographs that live in the CJK Compatibility Ideographs block).
_UNIFIED_IDEOGRAPH_RANGES: tuple[tuple[int, int], ...] = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xFA0E, 0xFA0F),
    (0xFA11, 0xFA11),
    (0xFA13, 0xFA14),
    (0xFA1F, 0xFA1F),
    (0xFA21, 0xFA21),
    (0xFA23, 0xFA24),
    (0xFA27, 0xFA29),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2EE5F),
    (0x30000, 0x323AF),
)


def rule_of(problem: str) -> str:
    """The rule at the start of a problem message: ``"[id_number.length] …"`` → ``id_number.length``."""
    if problem.startswith("[") and "]" in problem:
        return problem[1 : problem.index("]")]
    return ""


def _problem(rule: str, zh: str, en: str) -> str:
    return f"[{rule}] {zh} / {en}"


def _china_today() -> date:
    return datetime.now(_CHINA_TZ).date()


# --------------------------------------------------------------------------------------------------
# 居民身份证号 (GB 11643-1999)
# --------------------------------------------------------------------------------------------------


def normalize_id_number(value: str) -> str:
    """Strip surrounding whitespace and upper-case a trailing ``x`` check character."""
    return value.strip().upper()


def id_number_check_digit(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0``-``9``, ``X``) for the 17-digit body of an ID number."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("an ID number body is exactly 17 ASCII digits")
    total = sum(int(char) * weight for char, weight in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def check_id_number(value: str, *, today: date | None = None) -> list[str]:
    """Problems with an 18-character resident ID number; ``today`` (default: China date) bounds the birth.

    The value is checked as given except that a lower-case ``x`` check character is accepted.
    """
    text = value[:-1] + value[-1:].upper()
    problems: list[str] = []
    if len(text) != 18:
        problems.append(
            _problem(
                "id_number.length",
                f"身份证号应为18位，实际为{len(text)}位",
                f"an ID number has 18 characters, got {len(text)}",
            )
        )
    body, last = text[:17], text[17:]
    if any(c not in _DIGITS for c in body) or (last and last not in _DIGITS + "X"):
        bad = "".join(sorted({c for c in body if c not in _DIGITS} | set(last) - set(_DIGITS + "X")))
        problems.append(
            _problem(
                "id_number.characters",
                f"身份证号前17位须为数字、第18位须为数字或X，含非法字符：{bad}",
                f"non-digit characters: the first 17 must be digits, the last a digit or X; got {bad!r}",
            )
        )
    if problems:
        return problems

    if text[:2] not in PROVINCE_CODES:
        problems.append(
            _problem(
                "id_number.region",
                f"身份证号地区码前两位 {text[:2]} 不是有效的省级行政区划代码",
                f"unknown region: {text[:2]} is not a province code of GB/T 2260",
            )
        )
    problems.extend(_check_birth_date(text[6:14], today or _china_today()))
    expected = id_number_check_digit(body)
    if last != expected:
        problems.append(
            _problem(
                "id_number.check_digit",
                f"身份证号校验码错误：应为 {expected}，实际为 {last}",
                f"bad check digit: expected {expected}, got {last}",
            )
        )
    return problems


def _check_birth_date(digits: str, today: date) -> list[str]:
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return [
            _problem(
                "id_number.birth_date",
                f"身份证号出生日期 {digits} 不是真实存在的日期",
                f"impossible birth date: {digits} is not a calendar date",
            )
        ]
    if birth > today:
        return [
            _problem(
                "id_number.birth_date_future",
                f"身份证号出生日期 {birth.isoformat()} 晚于今天",
                f"birth date {birth.isoformat()} is in the future",
            )
        ]
    if birth < _EARLIEST_BIRTH:
        return [
            _problem(
                "id_number.birth_date_too_early",
                f"身份证号出生日期 {birth.isoformat()} 早于1900年",
                f"birth date {birth.isoformat()} is before 1900",
            )
        ]
    return []


def is_valid_id_number(value: str, *, today: date | None = None) -> bool:
    """Whether ``value`` is a valid resident ID number."""
    return not check_id_number(value, today=today)


# --------------------------------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100-2015) and the embedded organisation code (GB 11714-1997)
# --------------------------------------------------------------------------------------------------


def normalize_credit_code(value: str) -> str:
    """Strip surrounding whitespace and upper-case."""
    return value.strip().upper()


def credit_code_check_char(body: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    if len(body) != 17 or any(char not in _CREDIT_VALUES for char in body):
        raise ValueError("a credit code body is exactly 17 characters of CREDIT_CODE_ALPHABET")
    total = sum(_CREDIT_VALUES[char] * weight for char, weight in zip(body, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[-total % 31]


def _org_char_value(char: str) -> int:
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    raise ValueError(f"{char!r} is not an organisation code character")


def organisation_code_check_char(body: str) -> str:
    """The GB 11714 check character (``0``-``9``, ``X``) for the 8-character body of an organisation code."""
    if len(body) != 8:
        raise ValueError("an organisation code body is exactly 8 characters")
    total = sum(_org_char_value(char) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True))
    check = -total % 11
    return "X" if check == 10 else str(check)


def check_credit_code(value: str) -> list[str]:
    """Problems with an 18-character unified social credit code, checked as given (upper case)."""
    problems: list[str] = []
    if len(value) != 18:
        problems.append(
            _problem(
                "credit_code.length",
                f"统一社会信用代码应为18位，实际为{len(value)}位",
                f"a credit code has 18 characters, got {len(value)}",
            )
        )
    illegal = sorted({char for char in value if char not in _CREDIT_VALUES})
    if illegal:
        problems.append(
            _problem(
                "credit_code.characters",
                "统一社会信用代码只能由数字和除 I、O、Z、S、V 外的大写字母组成，"
                f"含非法字符：{''.join(illegal)}",
                "illegal character: only digits and upper-case letters other than I, O, Z, S, V are allowed,"
                f" got {''.join(illegal)!r}",
            )
        )
    if problems:
        return problems

    department, org_type = value[0], value[1]
    types = CREDIT_CODE_ORGANISATION_TYPES.get(department)
    if types is None:
        problems.append(
            _problem(
                "credit_code.department",
                f"登记管理部门代码 {department} 不存在",
                f"unknown registration management department code {department!r}",
            )
        )
    elif org_type not in types:
        problems.append(
            _problem(
                "credit_code.organisation_type",
                f"登记管理部门 {department} 下没有机构类别代码 {org_type}（可用：{'、'.join(types)}）",
                f"organisation type {org_type!r} is not defined for department {department!r}"
                f" (allowed: {', '.join(types)})",
            )
        )
    division = value[2:8]
    if not (division.isdigit() and (division[:2] in PROVINCE_CODES or division == _CENTRAL_DIVISION)):
        problems.append(
            _problem(
                "credit_code.division",
                f"登记管理机关行政区划码 {division} 无效",
                f"bad administrative division code {division!r} (6 digits of GB/T 2260)",
            )
        )
    org_expected = organisation_code_check_char(value[8:16])
    if value[16] != org_expected:
        problems.append(
            _problem(
                "credit_code.organisation_code_check",
                f"组织机构代码 {value[8:17]} 校验码错误：应为 {org_expected}，实际为 {value[16]}",
                f"bad organisation code check: {value[8:17]} should end in {org_expected}, got {value[16]}",
            )
        )
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        problems.append(
            _problem(
                "credit_code.check_char",
                f"统一社会信用代码校验码错误：应为 {expected}，实际为 {value[17]}",
                f"bad check character: expected {expected}, got {value[17]}",
            )
        )
    return problems


def is_valid_credit_code(value: str) -> bool:
    """Whether ``value`` is a valid unified social credit code."""
    return not check_credit_code(value)


# --------------------------------------------------------------------------------------------------
# Mobile numbers
# --------------------------------------------------------------------------------------------------


def normalize_mobile(value: str) -> str:
    """Drop spaces, hyphens and a ``+86`` / ``0086`` / ``86`` prefix (bare ``86`` only before 11 digits)."""
    text = _MOBILE_SEPARATORS.sub("", value)
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    if text.startswith("86") and len(text) == 13:
        return text[2:]
    return text


def check_mobile(value: str) -> list[str]:
    """Problems with a mainland mobile number, after :func:`normalize_mobile`."""
    text = normalize_mobile(value)
    problems: list[str] = []
    if text and not (text.isascii() and text.isdigit()):
        problems.append(
            _problem(
                "mobile.characters",
                "手机号只能包含数字（可带 +86 前缀、空格和连字符）",
                "a mobile number contains only digits (with optional +86 prefix, spaces and hyphens)",
            )
        )
    if len(text) != 11:
        problems.append(
            _problem(
                "mobile.length",
                f"手机号应为11位，实际为{len(text)}位",
                f"a mobile number has 11 digits, got {len(text)}",
            )
        )
    if not problems and not _MOBILE_RE.fullmatch(text):
        problems.append(
            _problem(
                "mobile.prefix",
                f"手机号须以 13–19 开头，实际为 {text[:2]}",
                f"a mobile number starts with 13-19, got {text[:2]}",
            )
        )
    return problems


def is_valid_mobile(value: str) -> bool:
    """Whether ``value`` is a mainland mobile number."""
    return not check_mobile(value)


# --------------------------------------------------------------------------------------------------
# Chinese personal names
# --------------------------------------------------------------------------------------------------


def _is_unified_ideograph(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _UNIFIED_IDEOGRAPH_RANGES)


def normalize_person_name(value: str) -> str:
    """Strip surrounding whitespace and replace look-alike dots (•, ・, ．, …) with the middle dot U+00B7."""
    return value.strip().translate({ord(char): _MIDDLE_DOT for char in _DOT_LOOKALIKES})


def check_person_name(value: str) -> list[str]:
    """Problems with a Chinese personal name: 2-20 CJK ideographs, single middle dots inside allowed."""
    problems: list[str] = []
    if not _NAME_MIN <= len(value) <= _NAME_MAX:
        problems.append(
            _problem(
                "name.length",
                f"姓名应为{_NAME_MIN}–{_NAME_MAX}个字，实际为{len(value)}个",
                f"a name has {_NAME_MIN}-{_NAME_MAX} characters, got {len(value)}",
            )
        )
    digits = [c for c in value if unicodedata.category(c) == "Nd"]
    latin = [c for c in value if "LATIN" in unicodedata.name(c, "")]
    spaces = [c for c in value if c.isspace()]
    other = sorted(
        {
            c
            for c in value
            if c != _MIDDLE_DOT
            and not _is_unified_ideograph(c)
            and c not in digits
            and c not in latin
            and c not in spaces
        }
    )
    if digits:
        problems.append(
            _problem("name.digits", f"姓名不能包含数字：{''.join(digits)}", "a name must not contain digits")
        )
    if latin:
        problems.append(
            _problem(
                "name.latin",
                f"姓名不能包含拉丁字母：{''.join(latin)}",
                "a name must not contain Latin letters",
            )
        )
    if spaces:
        problems.append(
            _problem("name.whitespace", "姓名不能包含空白字符", "a name must not contain whitespace")
        )
    if other:
        shown = " ".join(f"{c}(U+{ord(c):04X})" for c in other)
        problems.append(
            _problem(
                "name.characters",
                f"姓名只能由汉字和间隔号“·”组成，含非法字符：{shown}",
                f"a name consists of CJK ideographs and the middle dot U+00B7 only; illegal: {shown}",
            )
        )
    if value.startswith(_MIDDLE_DOT) or value.endswith(_MIDDLE_DOT):
        problems.append(
            _problem(
                "name.middle_dot_position",
                "间隔号“·”不能位于姓名开头或结尾",
                "the middle dot may not start or end a name",
            )
        )
    if _MIDDLE_DOT * 2 in value:
        problems.append(
            _problem("name.middle_dot_doubled", "间隔号“·”不能连续出现", "the middle dot may not be doubled")
        )
    return problems


def is_valid_person_name(value: str) -> bool:
    """Whether ``value`` is an acceptable Chinese personal name."""
    return not check_person_name(value)


# --------------------------------------------------------------------------------------------------
# E-mail (deliberately loose: one @, a dotted domain, no whitespace)
# --------------------------------------------------------------------------------------------------


def check_email(value: str) -> list[str]:
    """Problems with an e-mail address: ``local@domain.tld`` without whitespace, at most 254 characters."""
    if len(value) <= 254 and _EMAIL_RE.fullmatch(value):
        return []
    return [
        _problem(
            "email.format",
            "电子邮箱格式不正确，应形如 name@example.com",
            "an e-mail address looks like name@example.com",
        )
    ]


def is_valid_email(value: str) -> bool:
    """Whether ``value`` looks like an e-mail address."""
    return not check_email(value)


# --------------------------------------------------------------------------------------------------
# Masking for logs
# --------------------------------------------------------------------------------------------------


def mask_id_number(value: str) -> str:
    """Keep the first 6 and last 4 characters (``370402********123X``); shorter values are fully masked."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 digits of the normalised number (``138****1234``)."""
    text = normalize_mobile(value)
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]
