"""Matching records of one system to another by tax number and business name, at scale.

Names are compared as *tokens*: accents, case and punctuation removed, "&" read as "and",
common abbreviations spelled out, and the words that describe a company's form rather than who
it is (Pty, Ltd, Inc, LLC, Co, Group, Services, Holdings, Trading, "& Sons", …) dropped; the
remaining tokens are sorted, so word order does not matter ("Acme Pty. Ltd." and "ACME" are the
same name).

Fuzzy matching is blocked: every target is indexed under its tokens and their one-letter
deletions, and a name is scored only against the targets sharing a key with its two rarest
tokens, so each name meets a handful of targets instead of all of them (close to linear in the
data). The score is rapidfuzz's ``ratio`` of the sorted token strings minus
:data:`UNMATCHED_TOKEN_PENALTY` for every token on either side with no close counterpart on the
other. A name whose words are a subset of another's is therefore *not* a perfect match ("Metro
Concrete" vs "Metro Concrete Pumping" scores about 58), unlike ``token_set_ratio`` which calls it
100; the figures behind this choice are in ``bench/matching.py``.

:func:`resolve` decides for a whole set of records at once, strongest evidence first, so the
outcome never depends on the order or the pages the records arrive in (see its docstring).
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from typing import ParamSpec, TypeVar

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

P = ParamSpec("P")
R = TypeVar("R")

WEAK_WORDS = frozenset(
    {
        "pty",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "llc",
        "co",
        "company",
        "corp",
        "corporation",
        "the",
        "plc",
        "group",
        "services",
        "contracting",
        "contractors",
        "holdings",
        "trading",
        "enterprises",
        "and",
        "sons",
        "son",
    }
)
"""Words that say what form a business has, not which business it is: ignored when comparing."""

ABBREVIATIONS = {
    "bros": "brothers",
    "intl": "international",
    "svc": "services",
    "svcs": "services",
    "mech": "mechanical",
    "elec": "electrical",
    "constr": "construction",
    "engr": "engineering",
    "eng": "engineering",
    "mgmt": "management",
    "st": "street",
    "mt": "mount",
}
"""Short forms spelled out before comparing, so "Smith Bros" and "Smith Brothers" agree."""

TYPO_PENALTY = 4.0
"""Points taken off per typo (a letter added, dropped, changed or two swapped) in a word."""

UNMATCHED_TOKEN_PENALTY = 30.0
"""Points taken off for each word without a close counterpart in the other name."""

ROUGH_CUTOFF = 70.0
"""The plain ``ratio`` below which a pair is not scored at all: two typos in the shortest name that
can still reach the threshold stay above it, so the cut loses nothing and spares most scoring."""

_NOT_WORD = re.compile(r"[^\w\s]")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=1 << 16)
def name_tokens(name: str) -> tuple[str, ...]:
    """The sorted identifying tokens of a business name: "The Smith & Sons Pty. Ltd." → ("smith",).

    When every word is a weak word ("The Group"), those words are the tokens: a name is never empty
    unless it has no letters or digits at all.
    """
    plain = name.casefold()
    if not plain.isascii():
        plain = "".join(ch for ch in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(ch))
    plain = plain.replace("&", " and ")
    plain = plain.replace("'", "").replace("\u2019", "")  # O'Brien = OBrien
    words = [ABBREVIATIONS.get(word, word) for word in _NOT_WORD.sub(" ", plain).replace("_", " ").split()]
    strong = [word for word in words if word not in WEAK_WORDS]
    return tuple(sorted(strong or words))


def normalize_name(name: str) -> str:
    """The name as one comparable string (its sorted tokens): equal for "ACME Pty Ltd" and "Acme"."""
    return " ".join(name_tokens(name))


def normalize_tax_number(value: str | None) -> str:
    """Letters and digits of a tax number, upper-case: "12 345 678 901" → "12345678901"."""
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


def _block_keys(token: str) -> set[str]:
    """The token and, for tokens of four letters or more, each one-letter deletion of it: two words
    one edit apart (a typo, a missing or swapped letter) always share a key."""
    keys = {token}
    if len(token) >= 4:
        keys.update(token[:i] + token[i + 1 :] for i in range(len(token)))
    return keys


def _allowed_edits(token: str, other: str) -> int:
    """Typos tolerated between two words: none in numbers or words of four letters or less ("Hill" and
    "Hall" are different people), two when both words have eight letters or more, else one."""
    shorter, longer = sorted((len(token), len(other)))
    if longer < 5 or _DIGIT.search(token) or _DIGIT.search(other):  # "A1" and "A2" are different firms
        return 0
    return 1 if shorter < 8 else 2


def _edits_to_partners(tokens: Sequence[str], others: Sequence[str]) -> tuple[int, int]:
    """(typos, words without a partner): each word of ``tokens`` against its closest word of ``others``."""
    typos = missing = 0
    for token in tokens:
        best: int | None = None
        for other in others:
            allowed = _allowed_edits(token, other)
            edits = 0 if token == other else OSA.distance(token, other, score_cutoff=allowed)
            if edits <= allowed and (best is None or edits < best):
                best = edits
        if best is None:
            missing += 1
        else:
            typos += best
    return typos, missing


def name_score(first: str, second: str) -> float:
    """How alike two business names are, 0–100 (100 only for the same tokens)."""
    return _score(name_tokens(first), name_tokens(second))


def _score(first: tuple[str, ...], second: tuple[str, ...]) -> float:
    """100, less :data:`TYPO_PENALTY` per typo and :data:`UNMATCHED_TOKEN_PENALTY` per word of
    either name that has no counterpart in the other."""
    if first == second:
        return 100.0
    shared = set(first) & set(second)
    left = [token for token in first if token not in shared]
    right = [token for token in second if token not in shared]
    typos_there, missing_there = _edits_to_partners(left, right)
    typos_back, missing_back = _edits_to_partners(right, left)
    penalty = TYPO_PENALTY * max(typos_there, typos_back) + UNMATCHED_TOKEN_PENALTY * (missing_there + missing_back)
    return max(0.0, 100.0 - penalty)


def without_cyclic_gc(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with Python's cyclic garbage collector paused (and resumed after, if it was on).

    Indexing and resolving build hundreds of thousands of small objects, none of them in a cycle
    (reference counting frees them all). In a run's process, which also holds Prefect's and the
    clients' long-lived objects, every collection the allocations trigger walks that whole heap:
    measured on 20,000 × 20,000 after two nightlies, that made matching 1.6× slower and its
    growth per 10× data 22× instead of 13× (``bench/matching.py``).
    """

    @wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


class NameIndex:
    """Targets (id, name, tax number) indexed for exact tax-number, exact-name and fuzzy look-ups."""

    @without_cyclic_gc
    def __init__(self, entries: Iterable[tuple[str, str | None, str | None]]) -> None:
        self.by_tax: dict[str, list[str]] = {}
        self.by_name: dict[str, list[str]] = {}  # normalised name → target ids
        self._names_with: dict[str, set[str]] = {}  # word → normalised names containing it
        self._words_by_key: dict[str, set[str]] = {}  # block key → words
        self._similar_names: dict[str, frozenset[str]] = {}  # query word → names with a close word (memo)
        self._similar_words: dict[str, frozenset[str]] = {}  # query word → indexed words close to it (memo)
        self._word_counts: dict[str, int] = {}  # normalised name → its number of words
        self._names_with_pair: dict[tuple[str, str], list[str]] = {}  # two words → names of that many+ words
        self._single_word_names: dict[str, list[str]] = {}
        for target_id, name, tax_number in entries:
            if tax := normalize_tax_number(tax_number):
                self.by_tax.setdefault(tax, []).append(target_id)
            tokens = name_tokens(name or "")
            if not tokens:
                continue
            joined = " ".join(tokens)
            self.by_name.setdefault(joined, []).append(target_id)
            if joined in self._word_counts:
                continue
            self._word_counts[joined] = len(tokens)
            if len(tokens) == 1:
                self._single_word_names.setdefault(tokens[0], []).append(joined)
            for pair in {(a, b) for i, a in enumerate(tokens) for b in tokens[i + 1 :]}:
                self._names_with_pair.setdefault(pair, []).append(joined)
            for token in tokens:
                if token not in self._names_with:
                    for key in _block_keys(token):
                        self._words_by_key.setdefault(key, set()).add(token)
                self._names_with.setdefault(token, set()).add(joined)
        for ids in (*self.by_tax.values(), *self.by_name.values()):
            ids.sort()

    def same_tax(self, tax_number: str | None) -> list[str]:
        """Targets with this tax number (letters and digits compared)."""
        tax = normalize_tax_number(tax_number)
        return list(self.by_tax.get(tax, [])) if tax else []

    def same_name(self, name: str) -> list[str]:
        """Targets whose name has the same tokens."""
        return list(self.by_name.get(normalize_name(name), []))

    def _words_near(self, token: str) -> frozenset[str]:
        """Indexed words equal to ``token`` or within its tolerated typos."""
        found = self._similar_words.get(token)
        if found is None:
            words = {word for key in _block_keys(token) for word in self._words_by_key.get(key, ())}
            found = frozenset(w for w in words if w == token or OSA.distance(token, w) <= _allowed_edits(token, w))
            self._similar_words[token] = found
        return found

    def _names_near(self, token: str) -> frozenset[str]:
        """Indexed names having ``token`` or a word within its tolerated typos."""
        found = self._similar_names.get(token)
        if found is None:
            found = frozenset().union(*(self._names_with[word] for word in self._words_near(token)))
            self._similar_names[token] = found
        return found

    def _pool_all_words(self, tokens: tuple[str, ...]) -> set[str]:
        """Names with as many words as ``tokens``, each close to one of them: looked up by the two
        words with the fewest names, so the work stays small however large the index grows."""
        near = [self._words_near(token) for token in tokens]
        if len(tokens) == 1:
            return {joined for word in near[0] for joined in self._single_word_names.get(word, ())}
        weight = {token: sum(len(self._names_with[w]) for w in self._words_near(token)) for token in tokens}
        first, second = sorted(range(len(tokens)), key=lambda i: (weight[tokens[i]], i))[:2]
        pool: set[str] = set()
        for one in near[first]:
            for other in near[second]:
                pool.update(self._names_with_pair.get((one, other) if one <= other else (other, one), ()))
        rest = [near[i] for i in range(len(tokens)) if i not in (first, second)]
        return {
            joined
            for joined in pool
            if self._word_counts[joined] == len(tokens) and all(words.intersection(joined.split()) for words in rest)
        }

    def fuzzy(self, name: str, threshold: float) -> list[tuple[str, float]]:
        """Targets whose name scores at least ``threshold``, best first (ties by id).

        Only names sharing (give or take a typo) all but the words the threshold can spare are
        scored: every word without a counterpart costs :data:`UNMATCHED_TOKEN_PENALTY`.
        """
        tokens = name_tokens(name)
        if not tokens:
            return []
        spare = int((100.0 - threshold) // UNMATCHED_TOKEN_PENALTY)
        if spare == 0:
            pool = self._pool_all_words(tokens)
        else:  # a low threshold forgives whole words: count the words each name shares
            counts = Counter(joined for token in tokens for joined in self._names_near(token))
            pool = {
                joined
                for joined, count in counts.items()
                if count >= len(tokens) - spare and abs(self._word_counts[joined] - len(tokens)) <= spare
            }
        if not pool:
            return []
        wanted = " ".join(tokens)
        rough = process.extract(
            wanted, sorted(pool), scorer=fuzz.ratio, processor=None, score_cutoff=ROUGH_CUTOFF, limit=None
        )
        found: list[tuple[str, float]] = []
        for joined, _rough, _ in rough:
            score = _score(tokens, tuple(joined.split()))
            if score >= threshold:
                found.extend((target_id, score) for target_id in self.by_name[joined])
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))


Step = Callable[[str], list[str]]
"""One matching step: the candidate target ids for a record id, strongest steps first."""


@dataclass
class Decision:
    """What :func:`resolve` decided for one record."""

    target_id: str | None = None
    method: str | None = None
    candidates: list[str] = field(default_factory=list)  # several targets: a "multiple matches" issue
    rivals: list[str] = field(default_factory=list)  # several records claim one target: a "shared match"

    @property
    def decided(self) -> bool:
        return bool(self.target_id or self.candidates or self.rivals)


@without_cyclic_gc
def resolve(
    record_ids: Iterable[str], steps: Sequence[tuple[str, Step]], taken: AbstractSet[str]
) -> dict[str, Decision]:
    """Match a whole set of records to targets, step by step, independent of order and paging.

    At each step every undecided record gets the step's candidates minus the targets already
    ``taken`` (linked before this run, or claimed at a stronger step). A record with one candidate
    claims it; a target claimed by several records goes to none of them (all get ``rivals``) and
    is withdrawn from the weaker steps, so a later night does not hand it to someone else. Claims
    are repeated until nothing changes, so a record whose other candidates were all claimed
    meanwhile gets the one that is left, exactly as it would the next night once those links
    exist. Records still with several candidates get ``candidates``; records with none go on to
    the next step. Every choice depends only on the sets involved (ids are sorted), never on the
    order the records came in.
    """
    decisions = {record_id: Decision() for record_id in sorted(set(record_ids))}
    unavailable = set(taken)
    for method, step in steps:
        offered = {record_id: step(record_id) for record_id, decision in decisions.items() if not decision.decided}
        open_ids = sorted(offered)
        while open_ids:
            claims: dict[str, list[str]] = {}
            still_open: list[str] = []
            for record_id in open_ids:
                candidates = [target for target in offered[record_id] if target not in unavailable]
                if len(candidates) == 1:
                    claims.setdefault(candidates[0], []).append(record_id)
                elif candidates:
                    decisions[record_id].candidates, decisions[record_id].method = candidates, method
                    still_open.append(record_id)
                else:
                    decisions[record_id].candidates, decisions[record_id].method = [], None
            for target_id, claimants in sorted(claims.items()):
                unavailable.add(target_id)
                for record_id in claimants:
                    decision = decisions[record_id]
                    decision.method, decision.candidates = method, []
                    if len(claimants) == 1:
                        decision.target_id = target_id
                    else:
                        decision.rivals = [other for other in claimants if other != record_id]
                        decision.candidates = [target_id]
            open_ids = still_open if claims else []
    return decisions
