"""The refresh's two statements, compiled once per database connection.

A refresh runs the same two statements every time, the locked read of the
session joined to its user and the rotation's UPDATE; only the parameters
change. Building them with the ORM (``filter``, ``select_related``, the SQL
compiler) was most of a refresh's CPU, so each is compiled by the ORM (the
read) or from the model's metadata (the UPDATE) once per connection wrapper
and then only executed. The SQL is the ORM's own, so it stays right on every
backend Django supports (``FOR UPDATE OF`` where there is one, none on
SQLite); the row becomes instances exactly as a queryset makes them.

Why per connection wrapper: the compiled read keeps the compiler's
converters, bound to the wrapper of the thread that compiled them.
The UPDATE sends no ``pre_save``/``post_save`` for LoginSession, as
``QuerySet.update()`` would not either.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

# Django's own helper for select_related rows; django-stubs does not declare it.
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

from .models import LoginSession


@dataclass(frozen=True)
class _Read:
    sql: str
    converters: dict
    compiler: Any
    model_slice: slice
    init_list: list[str]
    populators: list


_compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _cache(connection: BaseDatabaseWrapper) -> dict[Any, Any]:
    return _compiled.setdefault(connection, {})


def _db_params(connection: BaseDatabaseWrapper, sid: Any, sub: Any) -> list[Any]:
    pk = LoginSession._meta.pk
    target = LoginSession._meta.get_field("user").target_field
    return [
        pk.get_db_prep_value(pk.to_python(sid), connection),
        target.get_db_prep_value(target.to_python(sub), connection),
    ]


def _compile_read(
    connection: BaseDatabaseWrapper, sid: str, sub: str, related: tuple[str, ...]
) -> _Read | None:
    # Compiled with the first refresh's own values; later ones pass theirs.
    queryset = (
        LoginSession.objects.using(connection.alias)
        .select_for_update(of=("self",))
        .select_related(*related)
        .filter(pk=sid, user_id=sub)
        .order_by()
    )
    compiler = queryset.query.get_compiler(using=connection.alias)
    sql, params = compiler.as_sql()
    if list(params) != _db_params(connection, sid, sub):
        return None  # a backend that adds parameters of its own: use the ORM
    klass_info, select = compiler.klass_info, compiler.select
    populators = _populators(queryset, klass_info, select, connection.alias)
    if populators is None:
        return None
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return _Read(
        sql=sql,
        converters=compiler.get_converters([column[0] for column in select[: compiler.col_count]]),
        compiler=compiler,
        model_slice=slice(start, end),
        init_list=[column[0].target.attname for column in select[start:end]],
        populators=populators,
    )


def _populators(queryset: Any, klass_info: dict[str, Any], select: Any, alias: str) -> list[Any] | None:
    """The select_related populators, reusable across refreshes; None: use the ORM.

    Django 6.1 gave querysets a fetch mode, which the helper takes; 5.2 has
    none. A mode that tracks peers keeps every fetched row in the populator,
    which a compiled read kept for the connection's life must not do.
    """
    fetch_mode = getattr(queryset, "_fetch_mode", None)
    if fetch_mode is None:
        return get_related_populators(klass_info, select, alias)
    if fetch_mode.track_peers:
        return None
    return get_related_populators(klass_info, select, alias, fetch_mode)


def locked_session(sid: str, sub: str, *, related: tuple[str, ...]) -> LoginSession | None:
    """``LoginSession.objects.select_for_update(of=("self",)).select_related(*related)
    .filter(pk=sid, user_id=sub).first()``, without building the query again."""
    connection = connections[router.db_for_write(LoginSession)]
    cache = _cache(connection)
    key = ("read", related)
    if key not in cache:
        cache[key] = _compile_read(connection, sid, sub, related)
    read: _Read | None = cache[key]
    if read is None:
        return _orm_read(sid, sub, related)
    with connection.cursor() as cursor:
        cursor.execute(read.sql, _db_params(connection, sid, sub))
        rows = cursor.fetchall()
    if not rows:
        return None
    if read.converters:
        rows = list(read.compiler.apply_converters(rows, read.converters))
    row = rows[0]
    session = LoginSession.from_db(connection.alias, read.init_list, row[read.model_slice])
    for populator in read.populators:
        populator.populate(row, session)
    return session


def _field(name: str) -> Any:
    return LoginSession._meta.get_field(name)


def _orm_read(sid: str, sub: str, related: tuple[str, ...]) -> LoginSession | None:
    return (
        LoginSession.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(pk=sid, user_id=sub)
        .order_by()
        .first()
    )


def update_session(session: LoginSession, fields: tuple[str, ...]) -> None:
    """``session.save(update_fields=fields)`` as one prepared UPDATE by primary key."""
    connection = connections[router.db_for_write(LoginSession, instance=session)]
    cache = _cache(connection)
    key = ("update", fields)
    if key not in cache:
        quote = connection.ops.quote_name
        meta = LoginSession._meta
        columns = ", ".join(f"{quote(_field(name).column)} = %s" for name in fields)
        # Identifiers from the model, quoted by the backend; every value is a parameter.
        cache[key] = f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [
        field.get_db_prep_save(getattr(session, field.attname), connection) for field in map(_field, fields)
    ]
    params.append(LoginSession._meta.pk.get_db_prep_value(session.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(cache[key], params)
