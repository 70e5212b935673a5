"""Site schemas made by cloning a template schema, and which schemas a deploy must migrate.

The template schema (`settings.SITE_TEMPLATE_SCHEMA`, `_site_template` by default: a name no
site slug can produce) is an ordinary tenant schema that only migrations ever write: every
`migrate_schemas` run migrates it with the sites (tenants/migration.py). A new site's schema
is a copy of it, made by one SQL script (its *blueprint*) that is generated from pg_catalog
once per migration state and cached in `tenants.SchemaBlueprint`:

1. `CREATE SCHEMA`, the sequences that are not identity sequences, the tables (columns with
   their types, collations, defaults, identity and generation clauses, storage options);
2. the template's rows (only what migrations wrote: content types, permissions, Wagtail's
   root page, groups and workflow, the migration records), copied with `INSERT … SELECT`;
3. every sequence set to the template's position;
4. primary keys, unique, check and exclusion constraints, then the other indexes, foreign
   keys and triggers, each under the template's own name and definition
   (`pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_triggerdef`).

Why not django-tenants' clone (docs/decisions/0008-schema-cloning.md): its `CREATE TABLE …
(LIKE … INCLUDING ALL)` renames unique constraints to PostgreSQL's default names, so a later
migration that drops one by name fails on every cloned site, its no-data mode leaves Wagtail
without a root page, and it takes 0.6–0.8 s of PL/pgSQL per site.

The script is plain DDL: it runs inside the caller's transaction, so a failed onboarding
rolls the new schema back with everything else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, schema_exists

# Bump when the generator below changes: cached blueprints of older code are then ignored.
GENERATOR_VERSION = 1
_TARGET = '"__carefront_clone_target__"'


class UnsupportedTemplate(RuntimeError):
    """The template schema holds something the cloner does not copy faithfully."""


def template_schema() -> str:
    return settings.SITE_TEMPLATE_SCHEMA


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


# --- Which migrations a site schema should have --------------------------------------------


def _migrations_of(app_names: list[str]) -> frozenset[tuple[str, str]]:
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = {config.label for config in apps.get_app_configs() if config.name in app_names}
    return frozenset(key for key in loader.graph.nodes if key[0] in labels)


@lru_cache(maxsize=1)
def expected_tenant_migrations() -> frozenset[tuple[str, str]]:
    """Every migration of the tenant apps that an up-to-date site schema has recorded (the
    code's migration graph, read from disk once per process)."""
    return _migrations_of(settings.TENANT_APPS)


@lru_cache(maxsize=1)
def expected_public_migrations() -> frozenset[tuple[str, str]]:
    return _migrations_of(settings.SHARED_APPS)


def schemas_behind(schemas: list[str]) -> list[str]:
    """The schemas among `schemas` that miss a migration of the code (or have no migration
    table at all), found with one query across all of them.

    A schema counts as up to date when every expected migration is recorded in its
    `django_migrations`; anything else (a schema that does not exist, a partial record)
    counts as behind, so the worst a wrong answer costs is a migrate run that does nothing.
    """
    if not schemas:
        return []
    public = get_public_schema_name()
    tenant_expected = sorted(f"{a}.{n}" for a, n in expected_tenant_migrations())
    public_expected = sorted(f"{a}.{n}" for a, n in expected_public_migrations())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' "
            "AND n.nspname = ANY(%s)",
            [list(schemas)],
        )
        with_table = {row[0] for row in cursor.fetchall()}
        parts, params = [], []
        for schema in schemas:
            if schema not in with_table:
                continue
            expected = public_expected if schema == public else tenant_expected
            parts.append(
                "SELECT %s, count(*) = %s FROM "  # noqa: S608 - identifiers quoted
                f"{_q(schema)}.django_migrations WHERE app || '.' || name = ANY(%s)"
            )
            params += [schema, len(expected), expected]
        up_to_date: set[str] = set()
        if parts:
            cursor.execute(" UNION ALL ".join(parts), params)
            up_to_date = {schema for schema, ok in cursor.fetchall() if ok}
    return [schema for schema in schemas if schema not in up_to_date]


# --- The template schema ----------------------------------------------------------------------


_template_current = False


def ensure_template_schema(*, verbosity: int = 0) -> None:
    """Create or migrate the template schema if it is missing or behind the code (slow, once
    per deploy; `migrate_schemas` normally does it). Once found current, a process does not
    look again: the code it runs does not change, and migrations only move forward."""
    global _template_current
    name = template_schema()
    if _template_current:
        return
    if schema_exists(name) and not schemas_behind([name]):
        _template_current = True
        return
    from django.core.management import call_command

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(name)}")
    # The default executor: this is the one schema, and no filtering (tenants/migration.py).
    call_command(
        "migrate_schemas",
        schema_name=name,
        tenant=True,
        interactive=False,
        verbosity=verbosity,
        executor="standard",
    )
    connection.set_schema_to_public()
    _template_current = True


# --- Blueprints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blueprint:
    fingerprint: str
    script: str  # with _TARGET where the new schema's name goes

    def for_schema(self, schema: str) -> str:
        return self.script.replace(_TARGET, _q(schema))


_blueprints: dict[str, Blueprint] = {}


def template_fingerprint() -> str:
    """What the template's structure and rows follow from: its migration records, the server
    version and this generator's version."""
    name = template_schema()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version_num'), "  # noqa: S608
            f"md5(string_agg(app || '.' || name, ',' ORDER BY app, name)) "
            f"FROM {_q(name)}.django_migrations"
        )
        version, digest = cursor.fetchone()
    raw = f"{GENERATOR_VERSION}:{version}:{name}:{digest}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def blueprint(*, refresh: bool = False) -> Blueprint:
    """The clone script of the template's current migration state: from this process's
    memory, else from `SchemaBlueprint`, else generated from the catalog and stored."""
    from tenants.models import SchemaBlueprint

    fingerprint = template_fingerprint()
    if not refresh and fingerprint in _blueprints:
        return _blueprints[fingerprint]
    stored = None if refresh else SchemaBlueprint.objects.filter(pk=fingerprint).first()
    if stored is None:
        script = generate_script(template_schema())
        _verify(script)
        SchemaBlueprint.objects.update_or_create(pk=fingerprint, defaults={"script": script})
    else:
        script = stored.script
    _blueprints.clear()
    _blueprints[fingerprint] = Blueprint(fingerprint, script)
    return _blueprints[fingerprint]


# --- Spare schemas ----------------------------------------------------------------------------
#
# Creating a schema is dominated by the disk, not by SQL: PostgreSQL fsyncs every index it
# builds (and every TOAST table's index), about 450 of them for a site, so even the generated
# script takes 0.5-3 s depending on the disk's fsync latency. Onboarding takes a clone made
# ahead of time instead and renames it (a catalog update, milliseconds); the pool is topped up
# after each onboarding and by beat, and a missing spare only means a synchronous clone.


def _spare_prefix(fingerprint: str) -> str:
    return f"{SPARE_PREFIX}{fingerprint[:12]}_"


SPARE_PREFIX = "_spare_"


def spare_schemas(*, fingerprint: str | None = None) -> list[str]:
    """The spare schemas cloned from the template's current state (or of `fingerprint`)."""
    prefix = _spare_prefix(fingerprint or template_fingerprint())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) ORDER BY nspname",
            [prefix],
        )
        return [row[0] for row in cursor.fetchall()]


def stale_spare_schemas(*, fingerprint: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) "
            "AND NOT starts_with(nspname, %s)",
            [SPARE_PREFIX, _spare_prefix(fingerprint)],
        )
        return [row[0] for row in cursor.fetchall()]


def replenish_spares(*, count: int | None = None) -> int:
    """Drop spares of an older template state and clone new ones until `count` (by default
    SITE_SPARE_SCHEMAS) are ready; each in its own transaction. Returns how many were made."""
    count = settings.SITE_SPARE_SCHEMAS if count is None else count
    ensure_template_schema()
    fingerprint = blueprint().fingerprint
    for stale in stale_spare_schemas(fingerprint=fingerprint):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {_q(stale)} CASCADE")
    made = 0
    while len(spare_schemas(fingerprint=fingerprint)) < count:
        name = _spare_prefix(fingerprint) + secrets.token_hex(4)
        with transaction.atomic():
            _run_clone(name)
        made += 1
    return made


def _claim_spare(schema: str) -> bool:
    """Rename a ready spare to `schema`, in the caller's transaction. Two onboardings at once
    never take the same spare: each holds a transaction-level advisory lock on the one it
    takes, and checks it still exists once the lock is held."""
    with connection.cursor() as cursor:
        for spare in spare_schemas():
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [spare])
            if not cursor.fetchone()[0]:
                continue
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [spare])
            if cursor.fetchone() is None:
                continue
            cursor.execute(f"ALTER SCHEMA {_q(spare)} RENAME TO {_q(schema)}")
            return True
    return False


def create_site_schema(schema: str) -> str:
    """Make `schema` for a new site in the caller's transaction: a spare renamed if one is
    ready, else a clone made now. Returns "spare" or "clone"."""
    _check_site_schema_name(schema)
    if _claim_spare(schema):
        return "spare"
    _run_clone(schema)
    return "clone"


def _check_site_schema_name(schema: str) -> None:
    if schema in (get_public_schema_name(), template_schema()) or not re.fullmatch(
        r"[a-z][a-z0-9_]{0,62}", schema
    ):
        raise ValueError(f"{schema!r} cannot be a site schema")


def _run_clone(schema: str) -> None:
    script = blueprint().for_schema(schema)
    with connection.cursor() as cursor:
        cursor.execute(script)


def clone_template(schema: str) -> None:
    """Create `schema` as a fresh copy of the template, in the caller's transaction."""
    _check_site_schema_name(schema)
    _run_clone(schema)


def _verify(script: str) -> None:
    """Run the script into a scratch schema, compare its catalog with the template's and roll
    it back: a definition that PostgreSQL does not print back faithfully fails here, once per
    migration state, instead of making sites that differ from migrated ones."""
    scratch = "_clone_check_" + secrets.token_hex(4)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(script.replace(_TARGET, _q(scratch)))
        differences = catalog_differences(template_schema(), scratch)
        transaction.set_rollback(True)
    if differences:
        raise UnsupportedTemplate(
            "The clone script does not reproduce the template schema:\n" + "\n".join(differences)
        )


# --- Generating the script from pg_catalog ---------------------------------------------------

# `status IN ('open', 'replied')` on a varchar column is stored as an array of varchar cast to
# text[] as a whole; PostgreSQL prints it as `(ARRAY['open'::character varying, …])::text[]`,
# which parses back as a cast of each element: the same rows, another definition. Casting the
# array to its own type first gives back the stored form.
_ARRAY_CAST = re.compile(
    r"\(ARRAY\[((?:'(?:[^']|'')*'::[a-z ]+(?:\(\d+\))?)(?:, '(?:[^']|'')*'::[a-z ]+"
    r"(?:\(\d+\))?)*)\]\)::([a-z ]+)\[\]"
)
_ELEMENT_TYPE = re.compile(r"'(?:[^']|'')*'::([a-z ]+(?:\(\d+\))?)")


def _faithful(definition: str) -> str:
    def rewrite(match: re.Match) -> str:
        types = set(_ELEMENT_TYPE.findall(match.group(1)))
        if len(types) != 1:
            return match.group(0)
        (element,) = types
        return f"ARRAY[{match.group(1)}]::{element}[]::{match.group(2)}[]"

    return _ARRAY_CAST.sub(rewrite, definition)


def _rows(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def generate_script(source: str) -> str:
    """The SQL that recreates schema `source` under _TARGET. Names in `source` are written
    qualified (search_path is emptied while the definitions are printed) and then pointed at
    the target; names in other schemas (public: users, pg_trgm) stay as they are."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        (previous_path,) = cursor.fetchone()
        cursor.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        try:
            return _generate(cursor, source)
        finally:
            cursor.execute("SELECT set_config('search_path', %s, true)", [previous_path])


def _generate(cursor, source: str) -> str:
    (nsp,) = _rows(cursor, "SELECT oid FROM pg_namespace WHERE nspname = %s", [source])[0]
    prefix = re.compile(rf"(?<![\w$\".]){re.escape(_q(source))}\.|(?<![\w$\".]){source}\.")

    def retarget(text: str) -> str:
        return prefix.sub(_TARGET + ".", text)

    _refuse_unsupported(cursor, nsp)

    relations = _rows(
        cursor,
        "SELECT c.oid, c.relname, c.relkind, c.reloptions FROM pg_class c "
        "WHERE c.relnamespace = %s AND c.relkind IN ('r', 'S') ORDER BY c.relname",
        [nsp],
    )
    tables = [(oid, name, options) for oid, name, kind, options in relations if kind == "r"]
    table_names = {oid: name for oid, name, _options in tables}

    # Sequences: identity sequences come with their column; the others are created first.
    sequences = _rows(
        cursor,
        "SELECT c.oid, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, "
        "s.seqmin, s.seqmax, s.seqcache, s.seqcycle, d.deptype, d.refobjid, a.attname "
        "FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid "
        "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid "
        "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
        "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "WHERE c.relnamespace = %s AND c.relkind = 'S' ORDER BY c.relname",
        [nsp],
    )
    identity_sequence = {}
    pre, data, post = [f"CREATE SCHEMA {_TARGET};"], [], []

    def options(start, increment, low, high, cache, cycle) -> str:
        return (
            f"START WITH {start} INCREMENT BY {increment} MINVALUE {low} MAXVALUE {high} "
            f"CACHE {cache} {'CYCLE' if cycle else 'NO CYCLE'}"
        )

    for _oid, name, type_, start, inc, low, high, cache, cycle, deptype, owner, column in sequences:
        target = f"{_TARGET}.{_q(name)}"
        if deptype == "i":
            identity_sequence[(owner, column)] = (
                f"SEQUENCE NAME {target} {options(start, inc, low, high, cache, cycle)}"
            )
        else:
            pre.append(
                f"CREATE SEQUENCE {target} AS {type_} "
                f"{options(start, inc, low, high, cache, cycle)};"
            )
            if deptype == "a":
                post.append(
                    f"ALTER SEQUENCE {target} OWNED BY "
                    f"{_TARGET}.{_q(table_names[owner])}.{_q(column)};"
                )
        data.append(
            f"SELECT pg_catalog.setval('{target.replace(chr(39), chr(39) * 2)}', "  # noqa: S608
            f"last_value, is_called) FROM {_q(source)}.{_q(name)};"
        )

    columns = _rows(
        cursor,
        "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, "
        "CASE WHEN a.attcollation <> t.typcollation "
        "  THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END, "
        "col_description(a.attrelid, a.attnum) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
        "LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
        "WHERE c.relnamespace = %s AND c.relkind = 'r' AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum",
        [nsp],
    )
    by_table: dict[int, list] = {}
    for row in columns:
        by_table.setdefault(row[0], []).append(row[1:])

    counts = dict(_table_row_counts(cursor, source, [name for _oid, name, _o in tables]))
    comments = []
    for oid, name, reloptions in tables:
        target = f"{_TARGET}.{_q(name)}"
        lines, insertable = [], []
        for column, type_, notnull, default, identity, generated, collation, comment in by_table[
            oid
        ]:
            line = f"{_q(column)} {type_}"
            if collation:
                line += f" COLLATE {collation}"
            if generated == "s":
                line += f" GENERATED ALWAYS AS ({retarget(default)}) STORED"
            else:
                insertable.append(_q(column))
                if default is not None:
                    line += f" DEFAULT {retarget(default)}"
            if notnull:
                line += " NOT NULL"
            if identity:
                kind = "ALWAYS" if identity == "a" else "BY DEFAULT"
                line += f" GENERATED {kind} AS IDENTITY ({identity_sequence[(oid, column)]})"
            lines.append(line)
            if comment is not None:
                comments.append(f"COMMENT ON COLUMN {target}.{_q(column)} IS {_literal(comment)};")
        storage = f" WITH ({', '.join(reloptions)})" if reloptions else ""
        pre.append(f"CREATE TABLE {target} ({', '.join(lines)}){storage};")
        if counts.get(name):
            cols = ", ".join(insertable)
            data.insert(
                0,
                f"INSERT INTO {target} ({cols}) OVERRIDING SYSTEM VALUE "  # noqa: S608
                f"SELECT {cols} FROM {_q(source)}.{_q(name)};",
            )
    for name, comment in _rows(
        cursor,
        "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
        "WHERE c.relnamespace = %s AND c.relkind = 'r' "
        "AND obj_description(c.oid, 'pg_class') IS NOT NULL",
        [nsp],
    ):
        comments.append(f"COMMENT ON TABLE {_TARGET}.{_q(name)} IS {_literal(comment)};")

    constraints = _rows(
        cursor,
        "SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE c.relnamespace = %s "
        "ORDER BY CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 "
        "WHEN 'c' THEN 3 ELSE 4 END, c.relname, k.conname",
        [nsp],
    )
    foreign = []
    for table, name, kind, definition in constraints:
        statement = (
            f"ALTER TABLE {_TARGET}.{_q(table_names[table])} "
            f"ADD CONSTRAINT {_q(name)} {retarget(_faithful(definition))};"
        )
        (foreign if kind == "f" else post).append(statement)

    indexes = _rows(
        cursor,
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relnamespace = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
        "  WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid "
        "  AND k.contype IN ('p', 'u', 'x')) ORDER BY c.relname",
        [nsp],
    )
    post += [retarget(_faithful(definition)) + ";" for (definition,) in indexes]
    post += foreign
    triggers = _rows(
        cursor,
        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = %s AND NOT t.tgisinternal ORDER BY c.relname, t.tgname",
        [nsp],
    )
    post += [retarget(definition) + ";" for (definition,) in triggers]
    return "\n".join(pre + data + post + comments)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _table_row_counts(cursor, schema: str, tables: list[str]) -> list[tuple[str, int]]:
    if not tables:
        return []
    parts = [
        f"SELECT {_literal(name)}, (SELECT count(*) FROM {_q(schema)}.{_q(name)})"  # noqa: S608
        for name in tables
    ]
    return _rows(cursor, " UNION ALL ".join(parts))


def _refuse_unsupported(cursor, nsp: int) -> None:
    """Fail loudly on what the generator does not copy, rather than clone it wrong."""
    checks = {
        "views, materialized views, partitioned or foreign tables or composite types": (
            "SELECT relname FROM pg_class WHERE relnamespace = %s "
            "AND relkind NOT IN ('r', 'S', 'i')"
        ),
        "unlogged or temporary tables": (
            "SELECT relname FROM pg_class WHERE relnamespace = %s AND relpersistence <> 'p'"
        ),
        "row-level security": (
            "SELECT relname FROM pg_class WHERE relnamespace = %s "
            "AND (relrowsecurity OR relforcerowsecurity)"
        ),
        "table inheritance": (
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE c.relnamespace = %s"
        ),
        "functions or procedures": "SELECT proname FROM pg_proc WHERE pronamespace = %s",
        "types or domains": (
            "SELECT typname FROM pg_type t WHERE typnamespace = %s "
            "AND typtype IN ('d', 'e', 'r', 'm', 'b')"
            " AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)"
            " AND typelem = 0"
        ),
        "rules": (
            "SELECT r.rulename FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class "
            "WHERE c.relnamespace = %s"
        ),
        "constraint triggers or clustered indexes": (
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = %s AND i.indisclustered "
            "UNION ALL SELECT conname FROM pg_constraint WHERE connamespace = %s "
            "AND contype = 't'"
        ),
    }
    for what, sql in checks.items():
        found = _rows(cursor, sql, [nsp] * sql.count("%s"))
        if found:
            names = ", ".join(sorted(str(row[0]) for row in found)[:5])
            raise UnsupportedTemplate(f"The template schema holds {what} ({names}).")


# --- Comparing schemas -----------------------------------------------------------------------


def catalog(schema: str) -> dict[str, list[tuple]]:
    """What a schema is made of, as the catalog says, with its own name taken out of every
    definition: tables, columns (position among live columns, type, default, nullability,
    identity, generation, collation), constraints and indexes (names and definitions),
    sequences (options, owner, position), triggers, comments and the row count of every
    table. Two schemas with equal catalogs are interchangeable to every migration."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        (previous_path,) = cursor.fetchone()
        cursor.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        try:
            return _catalog(cursor, schema)
        finally:
            cursor.execute("SELECT set_config('search_path', %s, true)", [previous_path])


def _catalog(cursor, schema: str) -> dict[str, list[tuple]]:
    own = re.compile(rf"(?<![\w$\".])(?:{re.escape(_q(schema))}|{re.escape(schema)})\.")

    def norm(value):
        if isinstance(value, list):
            return tuple(norm(v) for v in value)
        return own.sub("<schema>.", value) if isinstance(value, str) else value

    cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
    namespace = {"nsp": cursor.fetchone()[0]}

    def rows(sql: str) -> list[tuple]:
        cursor.execute(sql, namespace)
        return sorted(tuple(norm(v) for v in row) for row in cursor.fetchall())

    result = {
        "relations": rows(
            "SELECT relname, relkind, relpersistence, coalesce(reloptions, '{}'), "
            "relhasindex, relrowsecurity FROM pg_class WHERE relnamespace = %(nsp)s"
        ),
        "columns": rows(
            "SELECT c.relname, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), "
            "a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation, "
            "a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE c.relnamespace = %(nsp)s AND c.relkind IN ('r', 'p', 'v', 'm') "
            "AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        "constraints": rows(
            "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), "
            "k.condeferrable, k.condeferred, k.convalidated, coalesce(i.relname, '') "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "LEFT JOIN pg_class i ON i.oid = k.conindid AND k.contype IN ('p', 'u', 'x') "
            "WHERE k.connamespace = %(nsp)s"
        ),
        "indexes": rows(
            "SELECT t.relname, c.relname, pg_get_indexdef(i.indexrelid), i.indisunique, "
            "i.indisprimary FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid WHERE c.relnamespace = %(nsp)s"
        ),
        "sequences": rows(
            "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, "
            "s.seqmin, s.seqmax, s.seqcache, s.seqcycle, coalesce(d.deptype, ''), "
            "coalesce(t.relname || '.' || a.attname, '') FROM pg_class c "
            "JOIN pg_sequence s ON s.seqrelid = c.oid "
            "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid "
            "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
            "LEFT JOIN pg_class t ON t.oid = d.refobjid "
            "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE c.relnamespace = %(nsp)s"
        ),
        "triggers": rows(
            "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = %(nsp)s "
            "AND NOT t.tgisinternal"
        ),
        "comments": rows(
            "SELECT c.relname, d.objsubid, d.description FROM pg_description d "
            "JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass "
            "WHERE c.relnamespace = %(nsp)s"
        ),
    }
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = %(nsp)s AND relkind = 'S'",
        namespace,
    )
    positions = []
    for (name,) in cursor.fetchall():
        cursor.execute(f"SELECT last_value, is_called FROM {_q(schema)}.{_q(name)}")  # noqa: S608
        positions.append((name, *cursor.fetchone()))
    result["sequence_positions"] = sorted(positions)
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = %(nsp)s AND relkind = 'r'",
        namespace,
    )
    tables = [name for (name,) in cursor.fetchall()]
    result["row_counts"] = sorted(_table_row_counts(cursor, schema, tables))
    return result


def catalog_differences(first: str, second: str) -> list[str]:
    """Every line in which the catalogs of two schemas differ, readable in a test failure."""
    a, b = catalog(first), catalog(second)
    lines = []
    for part in a:
        for row in sorted(set(a[part]) - set(b[part])):
            lines.append(f"{part}: only in {first}: {row}")
        for row in sorted(set(b[part]) - set(a[part])):
            lines.append(f"{part}: only in {second}: {row}")
    return lines
