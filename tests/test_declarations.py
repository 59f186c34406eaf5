"""Integrations declare themselves once: everything that lists them is derived, docs included."""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import trestle.integrations as integrations_package
from trestle.cli import main
from trestle.deployments.catalog import deployments, integration_entrypoint
from trestle.flows import flow_names, get_flow
from trestle.flows.integrations import integration_flow, integration_task
from trestle.integrations import DeclarationError, dependency_order, names, per_project, registry
from trestle.settings import SyncSettings
from trestle.spec import DOCS_PATH, spec_markdown
from trestle.tasks import stages
from trestle.tasks.engine import Integration

ROOT = Path(__file__).resolve().parents[1]

# A code literal where an issue is raised: record.flag("…"), self._flag(record, "…"), Blocked("…"),
# WriteResult(..., code="…"); {self.entity} / {self.name} / {run.integration.entity} are filled in.
RAISED = re.compile(
    r"""(?:\._?flag\(\s*(?:record,\s*)?|\bBlocked\(\s*|\bcode=)f?"([a-z_{}.]+\.[a-z_]+)\"""",
)


def raised_codes(source: str, *, entity: str, name: str) -> set[str]:
    codes = set(RAISED.findall(source))
    filled = {"{self.entity}": entity, "{self.name}": name, "{run.integration.entity}": entity}
    resolved = set()
    for code in codes:
        for placeholder, value in filled.items():
            code = code.replace(placeholder, value)
        resolved.add(code)
    return resolved


def deleted_codes(cls: type[Integration], source: str) -> set[str]:
    """The codes :mod:`trestle.tasks.deleted` raises for ``cls``: ``<entity>.deleted_in_<target>`` when it
    says a target is gone, ``<entity>.deleted_in_<source>`` when it hands the pipeline gone sources."""
    codes = set()
    if cls.target_gone is not Integration.target_gone:
        codes.add(f"{cls.entity}.deleted_in_{cls.target_system}")
    if "SourceGone(" in source:
        codes.add(f"{cls.entity}.deleted_in_{cls.source_system}")
    return codes


def test_every_code_an_integration_raises_is_declared_and_every_declared_code_is_raised() -> None:
    pipeline_source = inspect.getsource(stages)
    for name, cls in registry().items():
        modules = {
            sys.modules[base.__module__] for base in cls.__mro__ if base.__module__.startswith("trestle.integrations")
        }
        source = "\n".join(inspect.getsource(module) for module in modules)
        raised = raised_codes(source, entity=cls.entity, name=cls.name)
        raised |= raised_codes(pipeline_source, entity=cls.entity, name=cls.name)
        raised |= deleted_codes(cls, source)
        declared = [issue.code for issue in cls.issue_codes()]
        assert len(declared) == len(set(declared)), f"{name} declares a code twice"
        assert raised - set(declared) == set(), f"{name} raises codes it does not declare"
        assert set(declared) - raised == set(), f"{name} declares codes nothing raises"
        assert cls.issue_fixes == {issue.code: issue.fix for issue in cls.issue_codes()}
        assert all(issue.meaning and issue.fix for issue in cls.issue_codes()), name


def test_the_readme_codes_that_had_drifted_are_in_the_generated_docs() -> None:
    docs = (ROOT / DOCS_PATH).read_text()
    for code in (
        "contact.no_name",
        "vendor.shared_match",
        "cost_code.no_code",
        "cost_code.write_rejected",
        "vendor.target_already_linked",
        "progress_claim.target_already_linked",
        "payment.target_already_linked",
        "project.target_already_linked",
    ):
        assert f"| `{code}` |" in docs, code


def test_committed_docs_are_what_trestle_spec_generates() -> None:
    assert (ROOT / DOCS_PATH).read_text() == spec_markdown(), (
        f"{DOCS_PATH} is stale: run `trestle spec --markdown > {DOCS_PATH}`"
    )


def test_declared_settings_and_dependencies_exist() -> None:
    for name, cls in registry().items():
        assert set(cls.settings_used) <= set(SyncSettings.model_fields), name
        assert all(SyncSettings.model_fields[setting].description for setting in cls.settings_used), (
            f"{name}: every setting it reads says what it means (its spec shows it)"
        )
        assert set(cls.depends_on) <= set(registry()), name
        order = names()
        assert all(order.index(dependency) < order.index(name) for dependency in cls.depends_on), name
    assert SyncSettings().integrations == names()


def test_dependency_order_is_topological_stable_and_refuses_cycles() -> None:
    graph = {"b": (), "a": ("c",), "c": (), "d": ("a", "b")}
    assert dependency_order(graph) == ["b", "c", "a", "d"]
    assert dependency_order(dict(reversed(graph.items()))) == ["b", "c", "a", "d"], "independent of declaration order"
    with pytest.raises(DeclarationError, match="circular"):
        dependency_order({"a": ("b",), "b": ("a",)})
    with pytest.raises(DeclarationError, match="unknown"):
        dependency_order({"a": ("missing",)})


TOY_MODULE = '''
"""A toy integration, declared in one module and nowhere else."""

from trestle.tasks.declaration import FieldMap, IssueCode, Schedule
from trestle.tasks.engine import Integration


class ToyWidgetsIntegration(Integration):
    name = "toy_widgets"
    title = "Toy widgets"
    entity = "toy_widget"
    source_system = "procore"
    target_system = "xero"
    summary = "Procore toy widgets → Xero toy gadgets."
    depends_on = ("projects",)
    per_project = True
    schedule = Schedule("5 * * * *", "hourly", "every hour at :05")
    mapping = (FieldMap("Name", "the widget's name"),)
    settings_used = ("project_category",)
    issues = (IssueCode("toy_widget.no_name", "the widget has no name", "Name the widget in Procore."),)

    def fetch(self, since):
        return iter(())

    def map(self, record):
        return {"Name": record.label}

    def write(self, items, batch_key):
        return []
'''


@pytest.fixture
def toy_integration(tmp_path: Path) -> Iterator[str]:
    """A new module in trestle.integrations' search path, found by discovery alone."""
    (tmp_path / "toy_widgets.py").write_text(TOY_MODULE)
    integrations_package.__path__.append(str(tmp_path))
    registry.cache_clear()
    try:
        yield "toy_widgets"
    finally:
        integrations_package.__path__.remove(str(tmp_path))
        sys.modules.pop("trestle.integrations.toy_widgets", None)
        registry.cache_clear()
        integration_flow.cache_clear()
        integration_task.cache_clear()


def test_a_new_integration_is_one_module(toy_integration: str, capsys: pytest.CaptureFixture[str]) -> None:
    order = names()
    assert toy_integration in order and order.index("projects") < order.index(toy_integration), "nightly order"
    assert toy_integration in per_project(), "single-project flow"
    assert toy_integration in SyncSettings().integrations
    assert SyncSettings(integrations=[toy_integration]).integrations == [toy_integration]

    by_name = {spec.name: spec for spec in deployments()}
    assert by_name["toy-widgets"].entrypoint == integration_entrypoint(toy_integration)
    assert by_name["toy-widgets-hourly"].cron == "5 * * * *"
    flow = get_flow(toy_integration)
    assert flow.name == "toy-widgets" and flow.description == "Procore toy widgets → Xero toy gadgets."
    module_path, attribute = by_name["toy-widgets"].entrypoint.split(":")
    loaded = getattr(__import__(module_path.removesuffix(".py").replace("/", "."), fromlist=[attribute]), attribute)
    assert loaded is flow, "the deployment's entrypoint loads the toy flow"

    assert "toy-widgets" in [name.replace("_", "-") for name in flow_names()]
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "toy-widgets" in capsys.readouterr().out, "the CLI offers it"
    assert main(["spec", "toy-widgets"]) == 0
    out = capsys.readouterr().out
    assert "## Toy widgets (Procore → Xero)" in out
    assert "| `toy_widget.no_name` | the widget has no name | Name the widget in Procore. |" in out
    assert "| `toy_widget.write_rejected` |" in out, "the pipeline's generic codes are added"
    assert "`TRESTLE_SYNC_PROJECT_CATEGORY`" in out
    assert "## Toy widgets" in spec_markdown()


def test_trestle_spec_json_and_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["spec", "payments", "--json"]) == 0
    (payments,) = json.loads(capsys.readouterr().out)
    assert payments["depends_on"] == ["progress_claims"] and payments["schedule"]["cron"] == "15 * * * *"
    assert "payment.deleted_in_xero" in [issue["code"] for issue in payments["issues"]]
    assert main(["spec", "nonsense"]) == 1
    assert "unknown integration 'nonsense'" in capsys.readouterr().err
