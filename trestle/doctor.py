"""``trestle doctor``: check configuration, database, both APIs and the Xero setup, and say
exactly what is wrong and how to fix it, before a nightly run finds out the hard way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trestle.clients.errors import ForbiddenError, TrestleApiError
from trestle.db import SchemaOutOfDate, check_schema, make_engine
from trestle.settings import ConfigError, TrestleSettings, load_settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def run_checks(settings: TrestleSettings | None = None, pair: str | None = None) -> list[Check]:
    """Every check for ``pair`` (default TRESTLE_PAIR), in order; later checks need earlier ones."""
    checks: list[Check] = []
    try:
        settings = settings or load_settings(pair)
        settings.require_connections()
    except ConfigError as exc:
        return [Check("configuration", False, str(exc), "set the named TRESTLE_* variables (see the README)")]
    checks.append(Check("configuration", True, f"pair {settings.pair!r}, database {_safe_url(settings)}"))
    checks.append(_schedule_check(pair if settings.pairs else None))
    try:
        check_schema(make_engine(settings.database_url or ""))
        checks.append(Check("database", True, "schema up to date"))
    except SchemaOutOfDate as exc:
        checks.append(Check("database", False, str(exc), "run `trestle db upgrade`"))
    except Exception as exc:
        from trestle.failures import database_reason

        checks.append(Check("database", False, f"cannot connect: {database_reason(exc)}", "check TRESTLE_DATABASE_URL"))
        return checks

    from trestle.tasks.context import RunContext

    ctx = RunContext(settings, store=_store(settings))
    try:
        checks += _guarded("Procore", lambda: _procore_checks(ctx))
        checks += _guarded("Xero", lambda: _xero_checks(ctx))
    finally:
        ctx.close()
    return checks


def _schedule_check(pair: str | None) -> Check:
    """Every ``[schedules.NAME]`` table names a deployment and resolves; the effective schedules."""
    from trestle.deployments.catalog import deployment_specs
    from trestle.deployments.schedules import schedules_for

    specs = deployment_specs([pair] if pair else [])
    try:
        resolved = schedules_for(specs)
    except ConfigError as exc:
        return Check("schedules", False, str(exc), "fix the named [schedules.NAME] table (see the README, Schedules)")
    shown = [f"{spec.name} {schedule.describe()}" for spec, schedule in zip(specs, resolved, strict=True) if schedule]
    return Check("schedules", True, "; ".join(shown) or "no deployment is scheduled")


def _store(settings: TrestleSettings):  # type: ignore[no-untyped-def]
    from trestle.models.store import LinkStore

    return LinkStore(make_engine(settings.database_url or ""), settings.pair)


def _guarded(system: str, run: Callable[[], list[Check]]) -> list[Check]:
    try:
        return run()
    except TrestleApiError as exc:
        return [Check(f"{system} API", False, str(exc), f"check the {system} URLs, client id and secret")]


def _procore_checks(ctx) -> list[Check]:  # type: ignore[no-untyped-def]
    procore, company_id = ctx.procore, ctx.settings.procore.company_id
    companies = procore.companies()
    found = next((c for c in companies if c.id == company_id), None)
    if found is None:
        return [
            Check(
                "Procore company",
                False,
                f"the app can reach {len(companies)} compan(y/ies), not {company_id}",
                "install the app in that company (Company Admin → App Management) or fix TRESTLE_PROCORE_COMPANY_ID",
            )
        ]
    checks = [Check("Procore company", True, f"{found.name} ({company_id})")]
    projects = sum(1 for _ in procore.iter_projects())
    checks.append(Check("Procore projects", True, f"{projects} active project(s) visible to the app"))
    stages = {stage.name for stage in procore.project_stages()}
    wanted = ctx.settings.sync.project_stage
    checks.append(
        Check(
            "Procore stage",
            wanted in stages,
            f"stage {wanted!r} {'exists' if wanted in stages else 'is missing'}",
            None
            if wanted in stages
            else f"create the project stage or set TRESTLE_SYNC_PROJECT_STAGE (existing: {', '.join(sorted(stages))})",
        )
    )
    lists = procore.standard_cost_code_lists()
    checks.append(
        Check(
            "Procore cost code list",
            bool(lists),
            f"{len(lists)} standard cost code list(s)",
            None if lists else "create the standard cost code list in Procore",
        )
    )
    return checks


def _xero_checks(ctx) -> list[Check]:  # type: ignore[no-untyped-def]
    xero, sync = ctx.xero, ctx.settings.sync
    try:
        organisation = xero.organisation()
    except ForbiddenError:
        return [_tenant_check(ctx)]
    checks = [Check("Xero organisation", True, f"{organisation.name} (tenant {ctx.settings.xero.tenant_id})")]
    groups = {(group.name or "").casefold() for group in xero.contact_groups()}
    has_group = sync.contact_group.casefold() in groups
    checks.append(
        Check(
            "Xero contact group",
            has_group,
            f"{sync.contact_group!r} {'exists' if has_group else 'is missing'}",
            None if has_group else "create it in Xero (Contacts → Groups) or set TRESTLE_SYNC_CONTACT_GROUP",
        )
    )
    categories = {(c.name or "").casefold(): c for c in xero.tracking_categories()}
    for name, setting in ((sync.project_category, "PROJECT_CATEGORY"), (sync.cost_code_category, "COST_CODE_CATEGORY")):
        category = categories.get(name.casefold())
        active = sum(1 for o in (category.options or []) if (o.status or "ACTIVE") == "ACTIVE") if category else 0
        checks.append(
            Check(
                f"Xero tracking category {name!r}",
                category is not None,
                f"{active} active option(s) of 100" if category else "missing",
                None if category else f"create it in Xero or set TRESTLE_SYNC_{setting}",
            )
        )
    codes = {account.code for account in xero.accounts()}
    wanted_codes = {sync.bill_account_code: "BILL_ACCOUNT_CODE"}
    wanted_codes.setdefault(sync.purchase_order_account_code, "PURCHASE_ORDER_ACCOUNT_CODE")
    for code, setting in wanted_codes.items():
        checks.append(
            Check(
                f"Xero account {code}",
                code in codes,
                "exists" if code in codes else "not in the chart of accounts",
                None if code in codes else f"set TRESTLE_SYNC_{setting} to an expense account code",
            )
        )
    if sync.tax_mode != "none":
        tax_types = {rate.tax_type for rate in xero.tax_rates()}
        for tax_type in sorted({sync.default_tax_type, *sync.tax_map.values()}):
            checks.append(
                Check(
                    f"Xero tax type {tax_type}",
                    tax_type in tax_types,
                    "exists" if tax_type in tax_types else "unknown to this organisation",
                    None if tax_type in tax_types else "fix TRESTLE_SYNC_DEFAULT_TAX_TYPE / TRESTLE_SYNC_TAX_MAP",
                )
            )
    return checks


def _tenant_check(ctx) -> Check:  # type: ignore[no-untyped-def]
    """Xero said 403 with valid credentials: name the tenant id and the ones the app can reach."""
    tenant = ctx.settings.xero.tenant_id
    try:
        reachable = [f"{c.tenant_id} ({c.tenant_name})" for c in ctx.xero.connections()]
    except TrestleApiError:
        reachable = []
    return Check(
        "Xero tenant",
        False,
        f"the app is not connected to tenant {tenant}"
        + (f"; it can reach {', '.join(reachable)}" if reachable else ""),
        "set TRESTLE_XERO_TENANT_ID to one of the app's connections (or connect the app to that organisation)",
    )


def _safe_url(settings: TrestleSettings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url or "").render_as_string(hide_password=True)


def format_checks(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(1 for check in checks if not check.ok)
    lines.append("All checks passed." if not failed else f"{failed} check(s) failed.")
    return "\n".join(lines)
