"""Process variables the case handlers read and write (camelCase in the process, snake_case here)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _Vars(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class CaseKeys(_Vars):
    """What every case carries from its start: the item, the town and the counter that accepted it."""

    item_code: str
    town_code: str
    counter: Literal["town", "district"]


class RegisteredCase(_Vars):
    """Variables ``case.register`` sets: the case number and the catalog facts the diagram uses."""

    case_number: str
    department_code: str
    mode: str
    item_name: str
    town_name: str
    department_name: str
    time_limit_days: int


class CaseContext(CaseKeys):
    """A registered case as later steps see it."""

    case_number: str
    department_code: str
    mode: str
