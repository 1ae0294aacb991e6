"""The screens' forms: the paper form's 依頼者 block (seed 003), the first step's kind and contract,
and the decisions. Japanese messages at each field (``core.web.forms``' helpers, as the customer
screens); passwords are never written back."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from wtforms import (
    BooleanField,
    Form,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, ValidationError

from core import rules
from core.staff.requests.base import KINDS, PAPER_FIELDS
from core.web.forms import required, rule

NOT_A_CHOICE = "選択肢から選択してください。"
DATE_FORMAT = "依頼日はYYYY-MM-DDの形式で入力してください（例：2026-12-01）。"
DATE_IN_FUTURE = "依頼日に未来の日付は入力できません。"
POSTAL_CODE_FORMAT = "郵便番号は「123-4567」の形式で入力してください。"
PHONE_FORMAT = "{label}は半角数字とハイフンで、10桁または11桁の番号を入力してください。"

_POSTAL_CODE = re.compile(r"^\d{3}-?\d{4}$")
_PHONE = re.compile(r"^[0-9-]+$")


def _too_long(label: str, size: int) -> Length:
    return Length(max=size, message=f"{label}は{size}文字以内で入力してください。")


def _phone(label: str) -> Any:
    def validate(form: Form, field: Any) -> None:
        value = field.data or ""
        digits = value.replace("-", "")
        if not _PHONE.match(value) or len(digits) not in (10, 11) or len(value) > 13:
            raise ValidationError(PHONE_FORMAT.format(label=label))

    return validate


def _postal_code(form: Form, field: Any) -> None:
    if not _POSTAL_CODE.match(field.data or ""):
        raise ValidationError(POSTAL_CODE_FORMAT)


def parse_date(value: str) -> dt.date | None:
    """``YYYY-MM-DD`` or ``YYYY/MM/DD`` as a date, else None."""
    try:
        return dt.date.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return None


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def _check_choice(field: Any) -> None:
    """One of the choices, the empty placeholder (「選択してください」) not among them."""
    if not field.data or field.data not in {choice.value for choice in field.choices or []}:
        raise ValidationError(NOT_A_CHOICE)


class Choice(SelectField):
    """A select whose refusal of an unknown value is in Japanese."""

    def pre_validate(self, form: Form) -> None:
        _check_choice(self)


class RadioChoice(RadioField):
    """A radio group whose refusal of an unknown or missing value is in Japanese."""

    def pre_validate(self, form: Form) -> None:
        _check_choice(self)


class StartForm(Form):
    """The first step: which kind (手続依頼区分) and which contract (ご契約番号)."""

    kind = RadioChoice("手続依頼区分")
    contract_no = StringField("ご契約番号", [required("ご契約番号"), rule(rules.check_contract_no)])

    def __init__(self, formdata: Any = None, **kw: Any) -> None:
        super().__init__(formdata, **kw)
        self.kind.choices = choices(
            (kind.code, f"{kind.label}（{kind.spec}）") for kind in KINDS.values()
        )


class PaperForm(Form):
    """The 依頼者 block of the 依頼書 as written (seed 003: every box filled)."""

    requested_on = StringField(PAPER_FIELDS["requested_on"], [required("依頼日")])
    postal_code = StringField(PAPER_FIELDS["postal_code"], [required("郵便番号"), _postal_code])
    address = StringField(PAPER_FIELDS["address"], [required("ご住所"), _too_long("ご住所", 200)])
    organisation_name = StringField(
        PAPER_FIELDS["organisation_name"], [required("団体名"), _too_long("団体名", 100)]
    )
    representative_title = StringField(
        PAPER_FIELDS["representative_title"],
        [required("代表者の肩書"), _too_long("代表者の肩書", 50)],
    )
    representative_name = StringField(
        PAPER_FIELDS["representative_name"],
        [required("代表者の氏名"), _too_long("代表者の氏名", 50)],
    )
    phone = StringField(PAPER_FIELDS["phone"], [required("電話番号"), _phone("電話番号")])
    fax = StringField(PAPER_FIELDS["fax"], [required("FAX番号"), _phone("FAX番号")])
    contact_person = StringField(
        PAPER_FIELDS["contact_person"], [required("ご担当者"), _too_long("ご担当者", 50)]
    )

    def __init__(self, formdata: Any = None, *, today: dt.date, **kw: Any) -> None:
        super().__init__(formdata, **kw)
        self.today = today

    def validate_requested_on(self, field: Any) -> None:
        """依頼日: a date, not after today."""
        day = parse_date(field.data or "")
        if day is None:
            raise ValidationError(DATE_FORMAT)
        if day > self.today:
            raise ValidationError(DATE_IN_FUTURE)

    def paper_values(self, contract_no: str) -> dict[str, Any]:
        """The values for :func:`~core.staff.requests.base.file_request`'s ``paper``."""
        values: dict[str, Any] = {
            name: self[name].data.strip() for name in PAPER_FIELDS if name != "contract_no"
        }
        values["requested_on"] = parse_date(values["requested_on"])
        values["contract_no"] = contract_no
        return values


def paper_form_class(extra: dict[str, Any]) -> type[PaperForm]:
    """:class:`PaperForm` with a kind's extra fields."""
    return type("KindPaperForm", (PaperForm,), dict(extra))


class ApproveForm(Form):
    """検印: the seal check (印鑑照合) is required."""

    seal_checked = BooleanField("印鑑照合（お申込印を届出印と照合しました）")


class RejectForm(Form):
    """却下: the reason, required."""

    note = TextAreaField("却下の理由", [required("却下の理由"), _too_long("却下の理由", 500)])
