"""The summary email's content: links, counts, issues, dry-run wording and escaping."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.notifications.reports import (
    HOSTILE_LABEL,
    clean_report,
    failed_report,
    many_records_report,
    nightly_report,
)
from trestle.models.report import RunReport
from trestle.notifications.render import render_markdown, render_summary

BLOCK_TAGS = {"td", "th", "tr", "div", "p", "li", "ul", "h1", "h2", "h3", "br", "table", "title"}


class HtmlFacts(HTMLParser):
    """Collects what a reader of the HTML sees: link targets with their text, script tags, and text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.tags: list[str] = []
        self.text_parts: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in BLOCK_TAGS:
            self.text_parts.append(" ")
        if tag == "a":
            self._href = dict(attrs).get("href")
            self.links[self._href or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.text_parts.append(" ")
        if tag == "a":
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self._href is not None:
            self.links[self._href] += data

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())


def parse(html: str) -> HtmlFacts:
    facts = HtmlFacts()
    facts.feed(html)
    facts.close()
    return facts


def record_urls(report: RunReport) -> list[str]:
    return [
        url
        for item in report.integrations
        for outcome in item.outcomes
        for url in (outcome.source_url, outcome.target_url)
        if url
    ]


def test_html_links_every_written_record_in_both_systems() -> None:
    report = nightly_report()
    facts = parse(render_summary(report).html)

    written = [o for item in report.integrations for o in item.outcomes if o.action in ("created", "updated")]
    assert len(written) == 4
    for outcome in written:
        assert facts.links[outcome.source_url] == "Open in Procore"
        assert facts.links[outcome.target_url] == "Open in Xero"
    assert set(record_urls(report)) <= set(facts.links)


def test_html_shows_counts_changes_and_every_issue() -> None:
    report = nightly_report()
    facts = parse(render_summary(report).html)

    assert "Finished with issues" in facts.text
    assert "2 created 2 updated 5 unchanged 1 skipped 1 failed 2 issues" in facts.text
    assert "EmailAddress: old@example.com → accounts@example.com" in facts.text
    assert "TaxNumber: (empty) → 53 004 085 616" in facts.text
    assert "Total: 12500.00 → 13750.50" in facts.text
    assert "Failed: Xero rejected the purchase order: Account code '999' is not a valid code" in facts.text
    assert "3 vendors are inactive in Procore and were left alone" in facts.text
    for item in report.integrations:
        assert f"{item.title} {item.direction}" in facts.text
        for issue in item.issues:
            assert issue.code in facts.text
            assert issue.message in facts.text
            assert facts.links[issue.url] == issue.label
    assert "Add the ABN on the vendor's Company tab in Procore; the next run picks it up." in facts.text
    assert "Procore 4 hour: 3596" in facts.text
    assert "Xero 6 day: 4994, minute: 54" in facts.text


def test_hostile_labels_are_escaped_in_html_and_literal_in_text() -> None:
    rendered = render_summary(nightly_report())
    facts = parse(rendered.html)

    assert "script" not in facts.tags
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Sons" in rendered.html
    assert HOSTILE_LABEL in facts.text
    assert HOSTILE_LABEL in rendered.text
    assert "<script>" not in render_markdown(nightly_report())


def test_text_part_carries_the_same_counts_and_urls() -> None:
    report = nightly_report()
    text = render_summary(report).text

    assert "Totals: 2 created, 2 updated, 5 unchanged, 1 skipped, 1 failed, 2 issues" in text
    assert "Counts: 1 created, 1 updated, 5 unchanged, 1 skipped, 0 failed, 1 issue" in text
    for url in record_urls(report):
        assert url in text
    for issue in (issue for item in report.integrations for issue in item.issues):
        assert f"[{issue.code}] {issue.label} ({issue.entity}): {issue.message}" in text
        assert f"Link: {issue.url}" in text
    assert "    TaxNumber: (empty) → 53 004 085 616" in text
    assert "DEBUG MODE" not in text


def test_subject_names_pair_flow_and_counts() -> None:
    assert render_summary(nightly_report()).subject == (
        "Trestle [acme] nightly: 2 created, 2 updated, 1 failed, 2 issues"
    )
    assert render_summary(clean_report()).subject == "Trestle [acme] projects: 0 created, 0 updated, 0 issues"


def test_dry_run_has_banner_and_would_verbs() -> None:
    rendered = render_summary(nightly_report(dry_run=True))
    facts = parse(rendered.html)

    assert rendered.subject.startswith("DEBUG MODE — Trestle [acme] nightly: 2 would create, 2 would update")
    assert "DEBUG MODE — nothing was written" in facts.text
    assert rendered.text.startswith("*** DEBUG MODE — nothing was written ***")
    assert "Would create (1)" in facts.text and "Would update (1)" in facts.text
    assert "Totals: 2 would create, 2 would update" in rendered.text
    assert "DEBUG MODE" not in parse(render_summary(nightly_report()).html).text


def test_failed_run_says_failed_with_the_error() -> None:
    report = failed_report()
    rendered = render_summary(report)

    assert rendered.subject == "Trestle [acme] payments FAILED: 0 created, 0 updated, 0 issues"
    assert f"Error: {report.integrations[0].error}" in parse(rendered.html).text
    assert f"ERROR: {report.integrations[0].error}" in rendered.text
    assert "Outcome: FAILED" in rendered.text


def test_long_tables_are_capped_with_a_pointer_to_the_rest() -> None:
    rendered = render_summary(many_records_report(205), row_limit=200)
    facts = parse(rendered.html)

    assert "https://app.procore.com/1/company/vendors/199" in facts.links
    assert "https://app.procore.com/1/company/vendors/200" not in facts.links
    assert "Created (205)" in facts.text
    assert "and 5 more — see the review list (trestle review) or the Prefect run." in facts.text
    assert "... and 5 more — see the review list (`trestle review`) or the Prefect run." in rendered.text


def test_html_is_self_contained() -> None:
    rendered = render_summary(nightly_report())
    facts = parse(rendered.html)

    assert not {"script", "link", "img", "style", "iframe"} & set(facts.tags)
    assert "<table" in rendered.html and 'style="' in rendered.html


def test_markdown_links_records_and_issues() -> None:
    report = nightly_report()
    markdown = render_markdown(report)

    assert "**Totals:** 2 created · 2 updated · 5 unchanged · 1 skipped · 1 failed · 2 issues" in markdown
    for url in record_urls(report):
        assert f"]({url})" in markdown
    assert "[No-ABN Plumbing](https://app.procore.com/562949953421312/company/vendors/103)" in markdown
    assert "VENDOR\\_TAX\\_NUMBER\\_MISSING" in markdown


def test_only_web_addresses_become_links() -> None:
    report = nightly_report()
    report.integrations[0].outcomes[0].source_url = "javascript:alert(1)"
    report.integrations[0].issues[0].url = "data:text/html,hi"

    facts = parse(render_summary(report).html)

    assert not [href for href in facts.links if not href.startswith("https://")]
    assert "No-ABN Plumbing" in facts.text
