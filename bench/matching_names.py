"""Synthetic business names for the matching benchmark and tests, generated from a seed.

:func:`labelled_set` builds contacts and vendors with the truth: true pairs differ by a typo, a
legal or descriptive suffix, word order, "&"/"and", an abbreviation, case, punctuation or
accents; hard negatives are contacts whose own vendor is absent while a look-alike is present (a
name that is a subset of the vendor's, the same owner in another trade, a different owner in the
same trade, a different number). :func:`directory` is ``n`` × ``n`` of them, for timing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_SURNAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Nguyen",
    "Johnson",
    "Martin",
    "White",
    "Anderson",
    "Walker",
    "Thompson",
    "Harris",
    "Lee",
    "Ryan",
    "Robinson",
    "Kelly",
    "King",
    "Davis",
    "Wright",
    "Evans",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "James",
    "Phillips",
    "Singh",
    "Mitchell",
    "Campbell",
    "Young",
    "Allen",
    "Turner",
    "Morris",
    "Cooper",
    "Murphy",
    "Ward",
    "Baker",
    "Hughes",
    "Edwards",
    "Scott",
    "Stewart",
    "Bennett",
    "Collins",
    "Morgan",
    "Parker",
    "Cook",
    "Bell",
    "Watson",
    "Murray",
    "Graham",
    "Kennedy",
    "Hill",
    "Price",
    "Russell",
    "Hunter",
    "Sullivan",
    "Larsen",
    "Ellison",
    "Fraser",
    "Douglas",
    "Henderson",
    "Marshall",
    "Simpson",
    "Gordon",
    "Sutherland",
    "Hamilton",
    "Gibson",
    "Reid",
    "Chapman",
    "Fletcher",
    "Harrison",
    "Holmes",
    "Lawson",
    "Mason",
    "Palmer",
    "Pearce",
    "Quinn",
    "Rowe",
    "Saunders",
    "Spencer",
    "Stone",
    "Tucker",
    "Vaughan",
    "Wallace",
    "Weston",
    "Whitfield",
    "Yates",
    "Zhang",
    "Chen",
    "Wang",
    "Liu",
    "Kowalski",
    "Novak",
    "Rossi",
    "Ferrari",
    "Costa",
    "Silva",
    "Moreau",
    "Dubois",
    "Fischer",
    "Weber",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Jansen",
    "Visser",
    "Lindqvist",
    "Berg",
    "Haddad",
    "Nakamura",
    "Tanaka",
    "Ito",
]
_IRISH = ("O'Brien", "O'Connor", "O'Neill", "O'Donnell", "O'Reilly", "O'Sullivan", "O'Keefe", "O'Hara")
_ACCENTED = {"Muller": "Müller", "Jose": "José", "Nunez": "Núñez", "Bjork": "Björk", "Lopez": "López"}
_PLACES = [
    "Metro",
    "Coastal",
    "Pioneer",
    "Redgum",
    "Granite",
    "Westfield",
    "Eastern",
    "Highland",
    "Bayside",
    "Ironbark",
    "Harbour",
    "Summit",
    "Valley",
    "Northern",
    "Southern",
    "Central",
    "Riverside",
    "Lakeside",
    "Hillside",
    "Parkside",
    "Bridgeway",
    "Sunrise",
    "Horizon",
    "Capital",
    "Premier",
    "Apex",
    "Atlas",
    "Beacon",
    "Crown",
    "Delta",
    "Eagle",
    "Falcon",
    "Heritage",
    "Keystone",
    "Liberty",
    "Monarch",
    "Orion",
    "Phoenix",
    "Sterling",
]
_TRADES = [
    "Plumbing",
    "Electrical",
    "Concrete",
    "Concrete Pumping",
    "Scaffolding",
    "Roofing",
    "Painting",
    "Tiling",
    "Glazing",
    "Formwork",
    "Earthworks",
    "Landscaping",
    "Masonry",
    "Drywall",
    "Carpentry",
    "Joinery",
    "Steel Fixing",
    "Structural Steel",
    "Demolition",
    "Excavation",
    "Air Conditioning",
    "Mechanical",
    "Fire Protection",
    "Waterproofing",
    "Flooring",
    "Cabinetry",
    "Fencing",
    "Paving",
    "Surveying",
    "Cranes",
    "Hire",
    "Asphalt",
    "Insulation",
    "Rendering",
    "Plastering",
    "Cleaning",
    "Security",
    "Lifts",
    "Signage",
    "Civil",
]
_SUFFIXES = ("Pty Ltd", "Ltd", "Pty. Ltd.", "Limited", "Inc", "Inc.", "LLC", "Co", "& Sons", "Group", "Services", "")
_ABBREVIATIONS = {"Brothers": "Bros", "International": "Intl", "Mechanical": "Mech", "Electrical": "Elec"}


def _base_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct business names without suffixes."""
    names: set[str] = set()
    ordered: list[str] = []
    surnames = [*_SURNAMES, *_ACCENTED]
    while len(ordered) < count:
        shape = rng.random()
        trade = rng.choice(_TRADES)
        if shape < 0.35:
            name = f"{rng.choice(surnames)} {trade}"
        elif shape < 0.6:
            name = f"{rng.choice(_PLACES)} {rng.choice(surnames)} {trade}"
        elif shape < 0.75:
            name = f"{rng.choice(surnames)} & {rng.choice(surnames)} {trade}"
        elif shape < 0.85:
            name = f"{rng.choice(surnames)} Brothers {trade}"
        elif shape < 0.93:
            name = f"{rng.choice(_PLACES)} {trade} International"
        else:
            name = f"{rng.choice(_IRISH)} {trade}"
        key = name.casefold()
        if key not in names:
            names.add(key)
            ordered.append(name)
    return ordered


def _typo(rng: random.Random, name: str) -> str:
    """One slip of the keyboard in one word of five letters or more."""
    words = name.split()
    long_words = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    if not long_words:
        return name
    index = rng.choice(long_words)
    word, at = words[index], rng.randrange(1, len(words[index]) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    elif kind == 1:
        word = word[:at] + word[at + 1 :]
    elif kind == 2:
        word = word[:at] + rng.choice("aeioulnrst") + word[at + 1 :]
    else:
        word = word[:at] + word[at] + word[at:]
    words[index] = word
    return " ".join(words)


def _variant(rng: random.Random, name: str) -> str:
    """The same business as another system might spell it."""
    kind = rng.randrange(7)
    if kind == 0:
        return _typo(rng, name)
    if kind == 1:  # word order
        words = name.split()
        if len(words) >= 3 and "&" not in words:
            words[0], words[1] = words[1], words[0]
        return " ".join(words)
    if kind == 2:
        return name.replace("&", "and") if "&" in name else name.replace(" Brothers", " Bros")
    if kind == 3:
        for long, short in _ABBREVIATIONS.items():
            name = name.replace(long, short)
        return name
    if kind == 4:
        for plain, accented in _ACCENTED.items():
            name = name.replace(plain, accented)
        return name.replace("O'", "O").upper()
    if kind == 5:
        return name.lower().replace(" ", "  ")
    return _typo(rng, name) if rng.random() < 0.5 else name


def _with_suffix(rng: random.Random, name: str) -> str:
    return f"{name} {rng.choice(_SUFFIXES)}".strip()


def _look_alike(rng: random.Random, name: str, taken: set[str]) -> str | None:
    """A different business whose name resembles ``name``: more words, another trade or owner, a number."""
    words = name.split()
    trade = next((t for t in _TRADES if name.endswith(t)), words[-1])
    owner = name[: -len(trade)].strip()
    kind = rng.randrange(4)
    if kind == 0:
        extras = ("Supplies", "Pumping", "Hire", "Systems", "Design", "Maintenance")
        extra = [word for word in extras if word not in name]
        candidate = f"{name} {rng.choice(extra)}"
    elif kind == 1:
        candidate = f"{owner} {rng.choice([t for t in _TRADES if t != trade and t not in trade])}".strip()
    elif kind == 2:
        candidate = f"{rng.choice([s for s in _SURNAMES if s not in owner])} {trade}"
    else:
        candidate = f"{owner} {trade} {rng.randint(2, 9)}".strip()
    return None if candidate.casefold() in taken else candidate


@dataclass
class Labelled:
    """Contacts (id, name), vendors (id, name, tax number) and each contact's true vendor (or None)."""

    contacts: list[tuple[str, str]]
    vendors: list[tuple[str, str, str | None]]
    truth: dict[str, str | None]


def labelled_set(pairs: int, negatives: int, seed: int = 1, vendors_total: int = 0) -> Labelled:
    """``pairs`` true pairs plus ``negatives`` contacts whose only near vendor is a look-alike, and
    unrelated vendors until there are ``vendors_total``."""
    rng = random.Random(seed)
    bases = _base_names(rng, pairs + negatives + vendors_total)
    spare, bases = bases[pairs + negatives :], bases[: pairs + negatives]
    taken = {base.casefold() for base in bases}
    contacts: list[tuple[str, str]] = []
    vendors: list[tuple[str, str, str | None]] = []
    truth: dict[str, str | None] = {}
    for index, base in enumerate(bases):
        contact_id = f"c{index:06d}"
        if index < pairs:
            vendor_id = f"v{index:06d}"
            vendors.append((vendor_id, _with_suffix(rng, base), None))
            contacts.append((contact_id, _with_suffix(rng, _variant(rng, base))))
            truth[contact_id] = vendor_id
            continue
        look_alike = _look_alike(rng, base, taken)
        if look_alike is not None:
            taken.add(look_alike.casefold())
            vendors.append((f"x{index:06d}", _with_suffix(rng, look_alike), None))
        contacts.append((contact_id, _with_suffix(rng, base)))
        truth[contact_id] = None
    for index, base in enumerate(spare[: max(0, vendors_total - len(vendors))]):
        vendors.append((f"u{index:06d}", _with_suffix(rng, base), None))
    return Labelled(contacts, vendors, truth)


def precision_recall(data: Labelled, linked: dict[str, str]) -> tuple[float, float]:
    """(precision, recall) of ``linked`` against the truth."""
    correct = sum(1 for contact_id, vendor_id in linked.items() if data.truth.get(contact_id) == vendor_id)
    wanted = sum(1 for vendor_id in data.truth.values() if vendor_id)
    return (correct / len(linked) if linked else 1.0), (correct / wanted if wanted else 1.0)


def directory(size: int, seed: int = 1) -> Labelled:
    """``size`` contacts and ``size`` vendors, half of them pairs, for timing."""
    return labelled_set(size // 2, size - size // 2, seed, vendors_total=size)
