"""The matcher (trestle.matching): quality on look-alike names, no perfect subsets, tax numbers
first, and decisions that depend on neither the order nor the pages records arrive in."""

from __future__ import annotations

import random

import pytest

from bench.matching import match_names
from bench.matching_names import labelled_set, precision_recall
from trestle.matching import Decision, NameIndex, name_score, normalize_name, resolve

THRESHOLD = 92.0


def name_steps(index: NameIndex, names: dict[str, str], taxes: dict[str, str] | None = None) -> tuple:
    """The vendors integration's steps without origin ids: tax number, same name, fuzzy name."""
    taxes = taxes or {}
    return (
        ("tax_number", lambda record_id: index.same_tax(taxes.get(record_id))),
        ("name", lambda record_id: index.same_name(names[record_id])),
        ("fuzzy_name", lambda record_id: [hit for hit, _ in index.fuzzy(names[record_id], THRESHOLD)]),
    )


def test_precision_and_recall_on_look_alike_names_are_at_least_098() -> None:
    data = labelled_set(pairs=1500, negatives=1500, seed=3)
    precision, recall = precision_recall(data, match_names(data.contacts, data.vendors, THRESHOLD))
    assert precision >= 0.98, precision
    assert recall >= 0.98, recall


def test_the_labelled_set_is_hard_enough_that_a_subset_scorer_fails_it() -> None:
    """The same set scored the old way (a name contained in another counts) loses precision."""
    from rapidfuzz import fuzz, process

    data = labelled_set(pairs=500, negatives=500, seed=3)
    vendor_names = {vendor_id: normalize_name(name) for vendor_id, name, _ in data.vendors}
    choices = list(vendor_names.values())
    ids = list(vendor_names)
    linked = {}
    for contact_id, name in data.contacts:
        hits = process.extract(normalize_name(name), choices, scorer=fuzz.token_set_ratio, score_cutoff=THRESHOLD)
        if len(hits) == 1:
            linked[contact_id] = ids[hits[0][2]]
    precision, _recall = precision_recall(data, linked)
    assert precision < 0.9, precision


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Metro Concrete", "Metro Concrete Pumping"),
        ("Smith Electrical", "Smith Plumbing"),
        ("Harris Cabinetry", "Harrison Cabinetry"),
        ("Hill Carpentry", "Hall Carpentry"),
        ("A1 Plumbing", "A2 Plumbing"),
    ],
)
def test_different_businesses_score_below_the_threshold(first: str, second: str) -> None:
    assert name_score(first, second) < THRESHOLD
    assert name_score(second, first) < THRESHOLD
    assert NameIndex([("v1", second, None)]).fuzzy(first, THRESHOLD) == []


def test_a_name_whose_words_are_a_subset_is_not_a_perfect_match() -> None:
    assert name_score("Metro Concrete", "Metro Concrete Pumping") < 80
    assert name_score("Metro Concrete Pumping", "Metro Concrete Pumping") == 100


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ACME Pty. Ltd.", "acme"),
        ("Smith & Sons Plumbing", "Smith Plumbing and Sons Pty Ltd"),
        ("Jones and Taylor Roofing", "JONES & TAYLOR ROOFING LLC"),
        ("Müller Électrique Inc.", "Muller Electrique"),
        ("O'Brien Earthworks Co", "OBrien Earthworks"),
        ("Roofing Pioneer", "Pioneer Roofing"),
        ("Lee Bros Tiling", "Lee Brothers Tiling"),
    ],
)
def test_suffixes_case_accents_punctuation_order_and_abbreviations_do_not_matter(first: str, second: str) -> None:
    assert normalize_name(first) == normalize_name(second)


def test_a_typo_still_matches_with_a_score_below_100() -> None:
    hits = NameIndex([("v1", "Westfield Scaffolding Pty Ltd", None)]).fuzzy("Westfeild Scaffolding", THRESHOLD)
    assert [vendor_id for vendor_id, _ in hits] == ["v1"]
    assert THRESHOLD <= hits[0][1] < 100


def test_a_tax_number_wins_over_a_same_name_vendor() -> None:
    index = NameIndex([("v1", "Granite Landscaping", None), ("v2", "GL Holdings", "12 345 678 901")])
    names, taxes = {"c1": "Granite Landscaping Ltd"}, {"c1": "12345678901"}
    decisions = resolve(names, name_steps(index, names, taxes), frozenset())
    assert decisions["c1"].target_id == "v2"
    assert decisions["c1"].method == "tax_number"


def test_a_vendor_claimed_by_two_contacts_goes_to_neither_and_is_not_offered_to_weaker_steps() -> None:
    index = NameIndex([("v1", "Coastal Painting Pty Ltd", None)])
    names = {"c1": "Coastal Painting", "c2": "Coastal Painting Ltd", "c3": "Coastal Paintng"}
    decisions = resolve(names, name_steps(index, names), frozenset())
    assert decisions["c1"].rivals == ["c2"] and decisions["c2"].rivals == ["c1"]
    assert decisions["c1"].target_id is None and decisions["c2"].target_id is None
    assert decisions["c3"] == Decision(), "the contested vendor is withdrawn from the fuzzy step"


def test_several_candidates_are_an_issue_never_a_guess() -> None:
    index = NameIndex([("v1", "Summit Masonry Services", None), ("v2", "Summit Masonry Holdings", None)])
    names = {"c1": "Summit Masonry"}
    decision = resolve(names, name_steps(index, names), frozenset())["c1"]
    assert decision.target_id is None
    assert decision.candidates == ["v1", "v2"]


def _night(data_names: dict[str, str], index: NameIndex, taken: frozenset[str]) -> dict[str, Decision]:
    return resolve(data_names, name_steps(index, data_names), taken)


def _crowded_set() -> tuple[dict[str, str], NameIndex]:
    """Look-alike names with duplicates on both sides, so claims collide."""
    data = labelled_set(pairs=600, negatives=300, seed=11)
    vendors = list(data.vendors)
    vendors += [(f"d{i}", name, None) for i, (_, name, _) in enumerate(data.vendors[:40])]  # twin vendors
    names = dict(data.contacts)
    names.update({f"dup{i}": name for i, (_, name) in enumerate(data.contacts[40:80])})  # twin contacts
    return names, NameIndex(vendors)


def test_decisions_do_not_depend_on_order_or_page_split() -> None:
    names, index = _crowded_set()
    expected = _night(names, index, frozenset())
    assert any(d.rivals for d in expected.values()) and any(len(d.candidates) > 1 for d in expected.values())
    ids = list(names)
    for seed in range(3):
        random.Random(seed).shuffle(ids)
        pages = [ids[start : start + 97] for start in range(0, len(ids), 97)]
        shuffled = {record_id: names[record_id] for page in reversed(pages) for record_id in page}
        assert _night(shuffled, index, frozenset()) == expected


def test_a_second_night_over_the_unlinked_records_decides_the_same() -> None:
    names, index = _crowded_set()
    first = _night(names, index, frozenset())
    linked = frozenset(d.target_id for d in first.values() if d.target_id)
    unlinked = {record_id: name for record_id, name in names.items() if not first[record_id].target_id}
    second = _night(unlinked, index, linked)
    assert second == {record_id: first[record_id] for record_id in unlinked}
