"""Tenancy: the deposit group a session works in (DC590101), always one of the user's own contract;
and the scope every module query is held to (ACC-7, #13 item 7): :class:`GroupScoped` tables are read
only through :func:`scoped_select`, which a module cannot forget (an unscoped statement is refused)."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from sqlalchemy import (
    Delete,
    ForeignKey,
    Index,
    Select,
    delete,
    event,
    select,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

from core.db.models import DepositGroup, User

GROUP_KEY = "group_id"


def group_of_contract(dbsession: Session, user: User, group_id: int) -> DepositGroup | None:
    """The deposit group ``group_id`` if it belongs to ``user``'s contract, else None (the tenancy
    rule, for a request, a job or a staff screen alike)."""
    group = dbsession.get(DepositGroup, group_id)
    if group is None or group.contract_id != user.contract_id:
        return None
    return group


def selected_group(request: Request) -> DepositGroup | None:
    """The deposit group selected in this session, if it belongs to the user's contract."""
    identity = request.identity
    group_id = request.session.get(GROUP_KEY)
    if identity is None or group_id is None:
        return None
    return group_of_contract(request.dbsession, identity.user, group_id)


# -- module data: one scope for every query (ACC-7, #13 item 7) ---------------------------------


class GroupScoped:
    """Mixin of a module table whose rows belong to one deposit group of one contract.

    Every SELECT, UPDATE or DELETE that touches such a table must be built by :func:`scoped_select`
    or :func:`scoped_delete` (restricted to one contract and deposit group), or be marked
    :func:`unscoped` with the reason (the bank's loaders, staff screens, jobs): any other statement
    raises :class:`UnscopedQuery` before it reaches the database, so a module cannot forget the
    scope. Rows are written with :func:`scope_values` (both columns from the group).
    """

    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    deposit_group_id: Mapped[int] = mapped_column(ForeignKey("deposit_groups.id"), index=True)


def batch_line_indexes(table: str, batch: str, sorts: dict[str, str]) -> tuple[Index, ...]:
    """The indexes of a table of lines per batch that an inquiry pages through (``core.inquiry``):
    one per sort (a short label → its column), each ``(contract_id, deposit_group_id, <batch>,
    <sort>, id)`` and named ``ix_<table>_group_<batch without _id>_<label>``. The scope and the
    batch lead, the sort and its tie-breaker follow: the count and a page's keys are read from the
    index alone, in order, with no sort step, on SQLite and PostgreSQL alike."""
    short = batch.removesuffix("_id")
    return tuple(
        Index(
            f"ix_{table}_group_{short}_{label}",
            "contract_id",
            "deposit_group_id",
            batch,
            column,
            "id",
        )
        for label, column in sorts.items()
    )


#: Execution options marking a statement scoped (the group's ids) or deliberately unscoped (why).
SCOPE_OPTION = "cjs_scope"
UNSCOPED_OPTION = "cjs_unscoped"


class UnscopedQuery(RuntimeError):
    """A statement touched a module's group-scoped table without the tenancy scope."""


class NoDepositGroup(HTTPForbidden):
    """A module query was asked for a request with no deposit group selected (fail closed)."""


#: A request, anything with a ``deposit_group`` (an ``OutputContext``), or a deposit group.
ScopeSource = Any


def scope_group(source: ScopeSource) -> DepositGroup:
    """The deposit group of ``source``: a request (its selected group), anything with a
    ``deposit_group`` (an ``OutputContext``), or a group. Raises :class:`NoDepositGroup`."""
    if isinstance(source, DepositGroup):
        return source
    group = getattr(source, "deposit_group", None)
    if group is None and hasattr(source, "session") and hasattr(source, "identity"):
        group = selected_group(source)
    if not isinstance(group, DepositGroup):
        raise NoDepositGroup()
    return group


def _scope(model: type[GroupScoped], group: DepositGroup) -> tuple[Any, Any]:
    if not (isinstance(model, type) and issubclass(model, GroupScoped)):
        raise TypeError(f"{model!r} is not a GroupScoped table")
    return (model.contract_id == group.contract_id, model.deposit_group_id == group.id)


def scoped_select(source: ScopeSource, model: type[GroupScoped], *columns: Any) -> Select[Any]:
    """``SELECT model`` (or ``columns`` of it) restricted to the contract and deposit group of
    ``source`` (see :func:`scope_group`); add ``where``, ``join`` and ``order_by`` as usual."""
    group = scope_group(source)
    statement = select(*columns) if columns else select(model)
    return statement.where(*_scope(model, group)).execution_options(
        **{SCOPE_OPTION: (group.contract_id, group.id)}
    )


def scoped_delete(source: ScopeSource, model: type[GroupScoped]) -> Delete:
    """``DELETE FROM model`` restricted to the contract and deposit group of ``source``."""
    group = scope_group(source)
    return (
        delete(model)
        .where(*_scope(model, group))
        .execution_options(**{SCOPE_OPTION: (group.contract_id, group.id)})
    )


Statement = TypeVar("Statement", bound=Executable)


def unscoped(statement: Statement, reason: str) -> Statement:
    """``statement`` allowed to read or change several groups' rows, for the ``reason`` given (the
    bank's loaders, staff screens, jobs; never a customer screen)."""
    return statement.execution_options(**{UNSCOPED_OPTION: reason})


def scope_values(group: DepositGroup) -> dict[str, int]:
    """The tenancy columns of a new row of ``group``: ``Model(**scope_values(group), ...)``."""
    return {"contract_id": group.contract_id, "deposit_group_id": group.id}


def _scoped_tables() -> dict[Any, str]:
    """The tables of every GroupScoped model, with the model's name."""
    found: dict[Any, str] = {}
    pending = list(GroupScoped.__subclasses__())
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        table = getattr(model, "__table__", None)
        if table is not None:
            found[table] = model.__name__
    return found


def _refuse_unscoped(state: ORMExecuteState) -> None:
    """The session hook: refuse a statement on a GroupScoped table without scope (fail closed).

    Every table the statement names is looked at — its entities, FROM clauses, joins, subqueries
    and columns — so ``select(func.count()).select_from(Model)`` is caught like ``select(Model)``.
    """
    if state.is_insert or state.is_relationship_load or state.is_column_load:
        return
    options = state.execution_options
    if SCOPE_OPTION in options or UNSCOPED_OPTION in options:
        return
    scoped = _scoped_tables()
    if not scoped:
        return
    touched = find_tables(
        cast(ClauseElement, state.statement),
        check_columns=True,
        include_aliases=True,
        include_joins=True,
        include_selects=True,
        include_crud=True,
    )
    for table in touched:
        if table in scoped:
            raise UnscopedQuery(
                f"{scoped[table]}: use core.security.tenancy.scoped_select "
                "(or unscoped(..., reason) for the bank's own work)"
            )


if not event.contains(Session, "do_orm_execute", _refuse_unscoped):
    event.listen(Session, "do_orm_execute", _refuse_unscoped)
