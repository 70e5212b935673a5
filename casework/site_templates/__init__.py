"""Site templates: a site's whole casework configuration, from the seeds' rule books.

A template is a JSON file next to this module (``<code>.json``) with the office hours and
reference pattern (``SiteConfiguration``), the department tree (``Department``), the
category trees (``Category``: natures 性质 — valid complaint 有效投诉, help-seeking 求助型,
inquiry 咨询型, venting 发泄型 — and contents 内容 such as equipment 设施设备, service
attitude 服务态度, service quality 服务质量, sudden incident 突发事件), and the tiers
(``Tier``: e.g. minor 轻微 / important 重要 / major 重大 / complex compensation 复杂性赔偿性)
each with its clocks (``MilestoneRule``: dispatch 派单, first contact 有效沟通, reply 答复,
resolve 处理完毕, …) and their escalation chains (one role told per further miss).

Durations are ``amount`` + ``unit``: ``minutes``, ``hours``, ``working_days`` (工作日, the
site's calendar) or ``calendar_days`` (日/天 without 工作日). ``0 working_days`` means
closing time of the same working day (当天).

Keys named ``source``, ``sources``, ``roles`` and ``not_mapped`` document where each number
comes from (seed and section), how the seeds' job titles map onto Carefront's roles and what
the models cannot hold; they are checked for nothing and stored nowhere.

``load_template(code)`` reads and validates a template; ``apply_template(code=...)`` writes it
into the current site's schema (inside ``django_tenants.utils.tenant_context``), updating the
rows that already exist by code, so applying it twice changes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils.translation import get_language
from django_tenants.utils import get_public_schema_name

from casework.models import (
    Category,
    CategoryKind,
    Department,
    DurationUnit,
    MetBy,
    MilestoneRule,
    SiteConfiguration,
    Tier,
)
from tenants.models import REGION_ROLES, SITE_ROLES, Role

TEMPLATE_DIR = Path(__file__).resolve().parent


class TemplateLabel(NamedTuple):
    name: str
    name_en: str

    @property
    def display_name(self) -> str:
        english = (get_language() or "").startswith("en")
        return self.name_en if english else self.name


TEMPLATES: dict[str, TemplateLabel] = {
    "hospital_property": TemplateLabel("医院物业服务", "Hospital property services"),
    "care_home": TemplateLabel("养老院", "Care home"),
    "patient_relations": TemplateLabel("医院投诉接待中心", "Patient-relations office"),
}

# The template a new site of each kind (tenants.models.SiteKind) starts from.
DEFAULT_TEMPLATE_FOR_KIND: dict[str, str] = {
    "hospital": "hospital_property",
    "care_home": "care_home",
}

# Who may hold a tier's case or approve for it: people working on the site. Escalation
# chains may also climb above the site, to the regional office (区域办公室).
TIER_ROLES = frozenset(str(role) for role in SITE_ROLES)
CHAIN_ROLES = TIER_ROLES | frozenset(str(role) for role in REGION_ROLES)
UNITS = frozenset(DurationUnit.values)

_DOC_KEYS = frozenset({"source", "sources", "roles", "not_mapped"})
_TOP_REQUIRED = frozenset(
    {"code", "name", "name_en", "configuration", "departments", "categories", "tiers"}
)
_CONFIGURATION_KEYS = frozenset(
    {
        "workday_start",
        "workday_end",
        "use_official_holidays",
        "reference_pattern",
        "default_category_code",
    }
)
_NAMED_REQUIRED = frozenset({"code", "name", "name_en"})
_DEPARTMENT_KEYS = _NAMED_REQUIRED | {"children"}
_CATEGORY_KEYS = _NAMED_REQUIRED | {"children", "is_valid_complaint"}
_TIER_REQUIRED = _NAMED_REQUIRED | {
    "rank",
    "handler_role",
    "extension_approver_role",
    "milestones",
}
_TIER_KEYS = _TIER_REQUIRED | {
    "description",
    "close_approver_role",
    "upgrade_after_days",
    "upgrade_to",
    "pause_reasons",
}
_MILESTONE_REQUIRED = _NAMED_REQUIRED | {"amount", "unit", "met_by"}
_MILESTONE_KEYS = _MILESTONE_REQUIRED | {"escalation_chain"}

_TEMPLATE_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_CATEGORY_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")
_PAUSE_REASON = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SMALL_INT_MAX = 32767
_INT_MAX = 2_147_483_647
_NAME_MAX = 200
_PATTERN_MAX = 60
_REFERENCE_MAX = 40


class _Checker:
    """Collects every problem of a template, each with where it is, before raising once."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, where: str, problem: str) -> None:
        self.errors.append(f"{where}: {problem}" if where else problem)

    def keys(
        self, node: Any, where: str, *, required: frozenset[str], allowed: frozenset[str]
    ) -> bool:
        if not isinstance(node, dict):
            self.error(where, f"expected an object, got {type(node).__name__}")
            return False
        for key in sorted(required - node.keys()):
            self.error(where, f"missing key {key!r}")
        for key in sorted(node.keys() - allowed - _DOC_KEYS):
            self.error(where, f"unknown key {key!r}")
        return True

    def names(self, node: dict, where: str) -> None:
        for key in ("name", "name_en"):
            value, here = node.get(key), f"{where}.{key}" if where else key
            if key not in node:
                continue
            if not isinstance(value, str) or not value.strip():
                self.error(here, "must be a non-empty string")
            elif len(value) > _NAME_MAX:
                self.error(here, f"longer than {_NAME_MAX} characters")

    def code(self, value: Any, where: str, pattern: re.Pattern, what: str) -> str | None:
        if not isinstance(value, str) or not pattern.match(value):
            self.error(where, f"{value!r} is not a valid {what}")
            return None
        return value

    def integer(self, value: Any, where: str, *, low: int, high: int) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.error(where, f"{value!r} is not a whole number from {low} to {high}")
            return None
        return value

    def role(self, value: Any, where: str, allowed: frozenset[str]) -> None:
        if value not in Role.values:
            self.error(where, f"unknown role {value!r}; expected one of {_listing(allowed)}")
        elif value not in allowed:
            self.error(where, f"role {value!r} is not allowed here; use one of {_listing(allowed)}")


def _listing(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


def _parse_time(checker: _Checker, value: Any, where: str) -> time | None:
    if isinstance(value, str) and re.match(r"^\d{2}:\d{2}$", value):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    checker.error(where, f"{value!r} is not a time of day as HH:MM")
    return None


def _check_configuration(checker: _Checker, node: Any, content_codes: set[str]) -> dict:
    where = "configuration"
    if not checker.keys(
        node,
        where,
        required=frozenset({"reference_pattern", "default_category_code"}),
        allowed=_CONFIGURATION_KEYS,
    ):
        return {}
    start = _parse_time(checker, node.get("workday_start", "08:00"), f"{where}.workday_start")
    end = _parse_time(checker, node.get("workday_end", "17:30"), f"{where}.workday_end")
    if start and end and not start < end:
        checker.error(
            where, f"workday_start ({start:%H:%M}) must be before workday_end ({end:%H:%M})"
        )
    holidays = node.get("use_official_holidays", True)
    if not isinstance(holidays, bool):
        checker.error(f"{where}.use_official_holidays", "must be true or false")
    pattern = node.get("reference_pattern")
    if not isinstance(pattern, str) or len(pattern) > _PATTERN_MAX:
        checker.error(
            f"{where}.reference_pattern", f"must be a string of at most {_PATTERN_MAX} characters"
        )
    elif "{seq" not in pattern:
        checker.error(
            f"{where}.reference_pattern",
            "must contain {seq} (or {seq:03d}): the day's sequence number",
        )
    else:
        try:
            longest = pattern.format(date="20261122", category="X" * 12, seq=9999)
        except (KeyError, IndexError, ValueError) as exc:
            checker.error(
                f"{where}.reference_pattern",
                f"cannot be filled with {{date}}, {{category}} and {{seq}}: {exc}",
            )
        else:
            if len(longest) > _REFERENCE_MAX:
                checker.error(
                    f"{where}.reference_pattern",
                    f"makes references longer than {_REFERENCE_MAX} characters (e.g. {longest!r})",
                )
    default = node.get("default_category_code")
    if default is not None and default not in content_codes:
        checker.error(
            f"{where}.default_category_code",
            f"{default!r} is not the code of a content category of this template",
        )
    return {
        "workday_start": start,
        "workday_end": end,
        "use_official_holidays": holidays,
        "reference_pattern": pattern,
        "default_category_code": default,
    }


def _check_departments(checker: _Checker, nodes: Any, where: str, seen: set[str]) -> list:
    if not isinstance(nodes, list):
        checker.error(where, "expected a list of departments")
        return []
    result = []
    for index, node in enumerate(nodes):
        here = f"{where}[{index}]"
        if not checker.keys(node, here, required=_NAMED_REQUIRED, allowed=_DEPARTMENT_KEYS):
            continue
        checker.names(node, here)
        code = checker.code(node.get("code"), f"{here}.code", _SLUG, "department code")
        if code is not None and code in seen:
            checker.error(f"{here}.code", f"duplicate department code {code!r}")
        seen.add(code)
        children = _check_departments(checker, node.get("children", []), f"{here}.children", seen)
        result.append(
            {
                "code": code,
                "name": node.get("name"),
                "name_en": node.get("name_en"),
                "children": children,
            }
        )
    return result


def _check_categories(checker: _Checker, nodes: Any, where: str, kind: str, seen: set[str]) -> list:
    if not isinstance(nodes, list):
        checker.error(where, "expected a list of categories")
        return []
    result = []
    for index, node in enumerate(nodes):
        here = f"{where}[{index}]"
        if not checker.keys(node, here, required=_NAMED_REQUIRED, allowed=_CATEGORY_KEYS):
            continue
        checker.names(node, here)
        code = checker.code(
            node.get("code"),
            f"{here}.code",
            _CATEGORY_CODE,
            "category code (1 to 12 upper-case letters and digits)",
        )
        if code is not None and code in seen:
            checker.error(f"{here}.code", f"duplicate {kind} category code {code!r}")
        seen.add(code)
        valid = node.get("is_valid_complaint", False)
        if not isinstance(valid, bool):
            checker.error(f"{here}.is_valid_complaint", "must be true or false")
        elif valid and kind != CategoryKind.NATURE:
            checker.error(f"{here}.is_valid_complaint", "only a nature can be a valid complaint")
        children = _check_categories(
            checker, node.get("children", []), f"{here}.children", kind, seen
        )
        result.append(
            {
                "code": code,
                "name": node.get("name"),
                "name_en": node.get("name_en"),
                "is_valid_complaint": valid is True,
                "children": children,
            }
        )
    return result


def _walk(nodes: list) -> list:
    """Every node of a tree, parents before their children."""
    out = []
    for node in nodes:
        out.append(node)
        out.extend(_walk(node["children"]))
    return out


def _check_milestones(checker: _Checker, nodes: Any, where: str) -> list:
    if not isinstance(nodes, list) or not nodes:
        checker.error(where, "expected a non-empty list of milestones")
        return []
    result, seen = [], set()
    for index, node in enumerate(nodes):
        here = f"{where}[{index}]"
        if not checker.keys(node, here, required=_MILESTONE_REQUIRED, allowed=_MILESTONE_KEYS):
            continue
        checker.names(node, here)
        code = checker.code(node.get("code"), f"{here}.code", _SLUG, "milestone code")
        if code is not None and code in seen:
            checker.error(f"{here}.code", f"duplicate milestone code {code!r} in this tier")
        seen.add(code)
        unit = node.get("unit")
        if unit not in UNITS:
            checker.error(
                f"{here}.unit",
                f"unknown unit {unit!r}; expected one of {', '.join(DurationUnit.values)}",
            )
        amount = checker.integer(node.get("amount"), f"{here}.amount", low=0, high=_INT_MAX)
        if amount == 0 and unit in UNITS and unit != DurationUnit.WORKING_DAYS:
            checker.error(
                f"{here}.amount",
                f"0 {unit} would be due at registration; only "
                "0 working_days (the same working day) makes sense",
            )
        met_by = node.get("met_by")
        if met_by not in MetBy.values:
            checker.error(
                f"{here}.met_by",
                f"unknown action {met_by!r}; expected one of {', '.join(MetBy.values)}",
            )
        chain = node.get("escalation_chain", [])
        if not isinstance(chain, list):
            checker.error(f"{here}.escalation_chain", "expected a list of role codes")
            chain = []
        for level, role in enumerate(chain):
            checker.role(role, f"{here}.escalation_chain[{level}]", CHAIN_ROLES)
        if len(set(map(str, chain))) != len(chain):
            checker.error(f"{here}.escalation_chain", "a role appears twice")
        result.append(
            {
                "code": code,
                "name": node.get("name"),
                "name_en": node.get("name_en"),
                "amount": amount,
                "unit": unit,
                "met_by": met_by,
                "escalation_chain": list(chain),
            }
        )
    return result


def _check_tiers(checker: _Checker, nodes: Any) -> list:
    if not isinstance(nodes, list) or not nodes:
        checker.error("tiers", "expected a non-empty list of tiers")
        return []
    result, codes, ranks = [], {}, set()
    for index, node in enumerate(nodes):
        here = f"tiers[{index}]"
        if not checker.keys(node, here, required=_TIER_REQUIRED, allowed=_TIER_KEYS):
            continue
        checker.names(node, here)
        code = checker.code(node.get("code"), f"{here}.code", _SLUG, "tier code")
        if code is not None and code in codes:
            checker.error(f"{here}.code", f"duplicate tier code {code!r}")
        rank = checker.integer(node.get("rank"), f"{here}.rank", low=0, high=_SMALL_INT_MAX)
        if rank is not None and rank in ranks:
            checker.error(f"{here}.rank", f"another tier already has rank {rank}")
        ranks.add(rank)
        if code is not None:
            codes[code] = rank
        checker.role(node.get("handler_role"), f"{here}.handler_role", TIER_ROLES)
        checker.role(
            node.get("extension_approver_role"), f"{here}.extension_approver_role", TIER_ROLES
        )
        close = node.get("close_approver_role", "")
        if close != "":
            checker.role(close, f"{here}.close_approver_role", TIER_ROLES)
        description = node.get("description", "")
        if not isinstance(description, str):
            checker.error(f"{here}.description", "must be a string")
        after, upgrade_to = node.get("upgrade_after_days"), node.get("upgrade_to")
        if after is not None:
            checker.integer(after, f"{here}.upgrade_after_days", low=1, high=_SMALL_INT_MAX)
        if (after is None) != (upgrade_to is None):
            checker.error(here, "upgrade_after_days and upgrade_to go together")
        reasons = node.get("pause_reasons", [])
        if not isinstance(reasons, list):
            checker.error(f"{here}.pause_reasons", "expected a list")
            reasons = []
        for position, reason in enumerate(reasons):
            checker.code(
                reason,
                f"{here}.pause_reasons[{position}]",
                _PAUSE_REASON,
                "pause reason (lower-case letters, digits and _)",
            )
        if len(set(map(str, reasons))) != len(reasons):
            checker.error(f"{here}.pause_reasons", "a reason appears twice")
        result.append(
            {
                "code": code,
                "name": node.get("name"),
                "name_en": node.get("name_en"),
                "rank": rank,
                "description": description if isinstance(description, str) else "",
                "handler_role": node.get("handler_role"),
                "extension_approver_role": node.get("extension_approver_role"),
                "close_approver_role": close,
                "upgrade_after_days": after,
                "upgrade_to": upgrade_to,
                "pause_reasons": list(reasons),
                "milestones": _check_milestones(
                    checker, node.get("milestones"), f"{here}.milestones"
                ),
            }
        )
    for index, tier in enumerate(result):
        target = tier["upgrade_to"]
        if target is None:
            continue
        where = f"tiers[{index}].upgrade_to"
        if target not in codes:
            checker.error(where, f"upgrade_to points to a missing tier {target!r}")
        elif target == tier["code"]:
            checker.error(where, "a tier cannot be upgraded to itself")
        elif None not in (codes[target], tier["rank"]) and codes[target] <= tier["rank"]:
            checker.error(
                where, f"tier {target!r} is not more severe (higher rank) than {tier['code']!r}"
            )
    return result


def template_path(code: str, *, directory: Path | None = None) -> Path:
    """The file of template `code`: one of TEMPLATES, or any ``<code>.json`` in `directory`."""
    if not isinstance(code, str) or not _TEMPLATE_CODE.match(code):
        raise ValueError(f"{code!r} is not a template code")
    if directory is None:
        if code not in TEMPLATES:
            raise ValueError(
                f"Unknown site template {code!r}; expected one of {', '.join(TEMPLATES)}"
            )
        directory = TEMPLATE_DIR
    path = Path(directory) / f"{code}.json"
    if not path.is_file():
        raise ValueError(f"Site template {code!r} not found: {path} does not exist")
    return path


def load_template(code: str, *, directory: Path | None = None) -> dict:
    """Read template `code` and check all of it; return it with every default filled in.

    Raises ValueError listing every problem found (unknown role codes or units, duplicate
    codes, an ``upgrade_to`` that names no tier of the template, missing names, …), each
    with its place in the file, e.g. ``tiers[2].milestones[1].unit: unknown unit 'days'``.
    `directory` reads ``<code>.json`` from elsewhere (tests, a firm's own templates).
    """
    path = template_path(code, directory=directory)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Site template {path.name} cannot be read: {exc}") from exc

    checker = _Checker()
    if not checker.keys(raw, "", required=_TOP_REQUIRED, allowed=_TOP_REQUIRED):
        raise ValueError(_summary(path, checker.errors))
    if raw.get("code") != code:
        checker.error("code", f"{raw.get('code')!r} does not match the file name {path.name}")
    checker.names(raw, "")

    departments = _check_departments(checker, raw.get("departments"), "departments", set())
    categories: dict[str, list] = {}
    nodes = raw.get("categories")
    if not isinstance(nodes, dict):
        checker.error("categories", "expected an object with 'nature' and 'content' lists")
        nodes = {}
    for kind in sorted(nodes.keys() - set(CategoryKind.values)):
        checker.error(
            "categories",
            f"unknown category kind {kind!r}; expected one of {', '.join(CategoryKind.values)}",
        )
    for kind in CategoryKind.values:
        if not nodes.get(kind):
            checker.error(f"categories.{kind}", "at least one category is needed")
        categories[kind] = _check_categories(
            checker, nodes.get(kind, []), f"categories.{kind}", kind, set()
        )
    if nodes.get(CategoryKind.NATURE) and not any(
        node["is_valid_complaint"] for node in _walk(categories[CategoryKind.NATURE])
    ):
        checker.error("categories.nature", "no nature is marked is_valid_complaint")
    content_codes = {node["code"] for node in _walk(categories[CategoryKind.CONTENT])}
    configuration = _check_configuration(checker, raw.get("configuration"), content_codes)
    tiers = _check_tiers(checker, raw.get("tiers"))

    if checker.errors:
        raise ValueError(_summary(path, checker.errors))
    return {
        "code": code,
        "name": raw["name"],
        "name_en": raw["name_en"],
        "configuration": configuration,
        "departments": departments,
        "categories": categories,
        "tiers": tiers,
    }


def _summary(path: Path, errors: list[str]) -> str:
    lines = "\n".join(f"  - {error}" for error in errors)
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    return f"Site template {path.name} is invalid ({count}):\n{lines}"


def apply_template(*, code: str, directory: Path | None = None) -> None:
    """Write template `code` into the current site's schema (立项 needs these rows).

    Call it inside ``tenant_context(site)``. The template is validated before anything is
    written; every row is matched by its code (departments and tiers by code, categories by
    kind and code, milestone rules by tier and code) and updated, so applying a template
    again restores its values and never duplicates. Rows the template does not name are left
    alone; rows it names are made active again. ``SiteConfiguration`` (id 1) records the
    template's code; its after-hours receiver (总值班), a person, is not touched.
    """
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError(
            "apply_template writes a site's configuration: call it inside "
            "django_tenants.utils.tenant_context(site), not in the public schema"
        )
    data = _loaded(code, directory)
    # Checked before anything is written; the writes are one transaction (no savepoint of
    # their own inside a caller's: a failure there undoes the caller's work too).
    with transaction.atomic(savepoint=False):
        if _configuration_is_empty():
            _insert_fresh(code, data)
        else:
            _update_rows(code, data)


def _update_rows(code: str, data: dict) -> None:
    SiteConfiguration.objects.update_or_create(
        id=1, defaults={"template": code, **data["configuration"]}
    )
    _apply_departments(data["departments"], parent=None)
    for kind, nodes in data["categories"].items():
        _apply_categories(nodes, kind=kind, parent=None)

    tiers: dict[str, Tier] = {}
    for spec in data["tiers"]:
        tier, _created = Tier.objects.update_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "name_en": spec["name_en"],
                "rank": spec["rank"],
                "description": spec["description"],
                "handler_role": spec["handler_role"],
                "extension_approver_role": spec["extension_approver_role"],
                "close_approver_role": spec["close_approver_role"],
                "upgrade_after_days": spec["upgrade_after_days"],
                "pause_reasons": spec["pause_reasons"],
            },
        )
        tiers[spec["code"]] = tier
        for position, rule in enumerate(spec["milestones"]):
            MilestoneRule.objects.update_or_create(
                tier=tier,
                code=rule["code"],
                defaults={
                    "name": rule["name"],
                    "name_en": rule["name_en"],
                    "amount": rule["amount"],
                    "unit": rule["unit"],
                    "met_by": rule["met_by"],
                    "escalation_chain": rule["escalation_chain"],
                    "position": position,
                },
            )
    # Upgrade targets are resolved once every tier exists (minor → major points forward).
    for spec in data["tiers"]:
        tier = tiers[spec["code"]]
        target = tiers[spec["upgrade_to"]] if spec["upgrade_to"] else None
        if tier.upgrade_to_id != (target.pk if target else None):
            tier.upgrade_to = target
            tier.save(update_fields=["upgrade_to"])


def _loaded(code: str, directory: Path | None) -> dict:
    """load_template, remembered per file and modification time: reading and checking a
    template takes longer than writing it into a new site."""
    path = template_path(code, directory=directory)
    return _load_cached(code, str(directory) if directory else None, path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_cached(code: str, directory: str | None, _mtime: int) -> dict:
    return load_template(code, directory=Path(directory) if directory else None)


def _configuration_is_empty() -> bool:
    """No configuration row at all (a new site): one statement for the four tables."""
    tables = [m._meta.db_table for m in (SiteConfiguration, Department, Category, Tier)]
    quote = connection.ops.quote_name
    # Table names come from the models' metadata, never from input.
    checks = " OR ".join(f"EXISTS (SELECT 1 FROM {quote(table)})" for table in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT NOT ({checks})")
        return cursor.fetchone()[0]


def _insert_fresh(code: str, data: dict) -> None:
    """A new site's configuration in about ten INSERTs (one per model and tree level) instead
    of one lookup and one write per row: the same rows `apply_template` writes one by one."""
    SiteConfiguration.objects.create(id=1, template=code, **data["configuration"])

    def insert_tree(model, nodes: list, make) -> None:
        level = [(node, None, position) for position, node in enumerate(nodes)]
        while level:
            rows = model.objects.bulk_create(
                [make(node, parent, position) for node, parent, position in level]
            )
            level = [
                (child, row, position)
                for (node, _parent, _position), row in zip(level, rows, strict=True)
                for position, child in enumerate(node["children"])
            ]

    insert_tree(
        Department,
        data["departments"],
        lambda node, parent, position: Department(
            code=node["code"],
            name=node["name"],
            name_en=node["name_en"],
            parent=parent,
            position=position,
            is_active=True,
        ),
    )
    # Both kinds' trees at once (one INSERT per level): each node carries its kind.
    insert_tree(
        Category,
        [
            {**node, "kind": kind, "children": _with_kind(node["children"], kind)}
            for kind, nodes in data["categories"].items()
            for node in nodes
        ],
        lambda node, parent, _position: Category(
            kind=node["kind"],
            code=node["code"],
            name=node["name"],
            name_en=node["name_en"],
            parent=parent,
            is_valid_complaint=node["is_valid_complaint"],
            is_active=True,
        ),
    )
    tiers = Tier.objects.bulk_create(
        [
            Tier(
                code=spec["code"],
                name=spec["name"],
                name_en=spec["name_en"],
                rank=spec["rank"],
                description=spec["description"],
                handler_role=spec["handler_role"],
                extension_approver_role=spec["extension_approver_role"],
                close_approver_role=spec["close_approver_role"],
                upgrade_after_days=spec["upgrade_after_days"],
                pause_reasons=spec["pause_reasons"],
            )
            for spec in data["tiers"]
        ]
    )
    by_code = {tier.code: tier for tier in tiers}
    MilestoneRule.objects.bulk_create(
        [
            MilestoneRule(
                tier=by_code[spec["code"]],
                code=rule["code"],
                name=rule["name"],
                name_en=rule["name_en"],
                amount=rule["amount"],
                unit=rule["unit"],
                met_by=rule["met_by"],
                escalation_chain=rule["escalation_chain"],
                position=position,
            )
            for spec in data["tiers"]
            for position, rule in enumerate(spec["milestones"])
        ]
    )
    upgraded = []
    for spec in data["tiers"]:
        if spec["upgrade_to"]:
            by_code[spec["code"]].upgrade_to = by_code[spec["upgrade_to"]]
            upgraded.append(by_code[spec["code"]])
    if upgraded:
        Tier.objects.bulk_update(upgraded, ["upgrade_to"])


def _with_kind(nodes: list, kind: str) -> list:
    return [
        {**node, "kind": kind, "children": _with_kind(node["children"], kind)} for node in nodes
    ]


def _apply_departments(nodes: list, *, parent: Department | None) -> None:
    for position, node in enumerate(nodes):
        department, _created = Department.objects.update_or_create(
            code=node["code"],
            defaults={
                "name": node["name"],
                "name_en": node["name_en"],
                "parent": parent,
                "position": position,
                "is_active": True,
            },
        )
        _apply_departments(node["children"], parent=department)


def _apply_categories(nodes: list, *, kind: str, parent: Category | None) -> None:
    for node in nodes:
        category, _created = Category.objects.update_or_create(
            kind=kind,
            code=node["code"],
            defaults={
                "name": node["name"],
                "name_en": node["name_en"],
                "parent": parent,
                "is_valid_complaint": node["is_valid_complaint"],
                "is_active": True,
            },
        )
        _apply_categories(node["children"], kind=kind, parent=category)
