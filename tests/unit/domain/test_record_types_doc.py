"""docs/record-types.md shows the traits every record type declares, as the declarations have
them, and says what each trait drives.

The table of types is generated from the declarations: while it differs, this test fails;
`UPDATE_RECORD_TYPES_DOC=1 python3 dev.py test tests/unit/domain/test_record_types_doc.py`
rewrites it."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from domain.events import RECORD_EVENT_TYPES, BySeverity, NamedPeriod, RecordTraits, Span

pytestmark = pytest.mark.domain
DOC = Path(__file__).resolve().parents[3] / "docs" / "record-types.md"
START, END = "<!-- record-types:start -->", "<!-- record-types:end -->"


def _published(traits: RecordTraits) -> str:
    rule = traits.published
    if rule is None:
        return "no"
    if isinstance(rule, BySeverity):
        said = ["for its severity's period"]
        if rule.procedure:
            said.append(f"procedure in `{rule.procedure}`")
        if rule.categories:
            said.append(f"penalty categories in `{rule.categories}`")
        if rule.licence_action:
            said.append(f"licence action in `{rule.licence_action}`")
        if rule.declared_end:
            said.append(f"declared end in `{rule.declared_end}`")
        text = "; ".join(said)
    elif isinstance(rule, NamedPeriod):
        text = f"as the policy's period `{rule.name}` says"
    else:
        assert isinstance(rule, Span)
        text = f"`{rule.start}` to `{rule.end}`" if rule.end else f"from `{rule.start}`, open-ended"
        if rule.unless:
            text += f"; not if `{rule.unless[0]}` is {rule.unless[1]}"
    if traits.published_after_end:
        text += "; kept when ended"
    return text


def _acts_on(traits: RecordTraits) -> str:
    acts_on = traits.acts_on
    if acts_on is None:
        return ""
    target = " or ".join(acts_on.types) if acts_on.types else "any record"
    return f"{acts_on.effect} {target} (`{acts_on.field}`; {acts_on.action})"


def _rests_on(traits: RecordTraits) -> str:
    return f"conduct (`{traits.rests_on.field}`)" if traits.rests_on is not None else ""


def record_types_table() -> str:
    rows = [
        "| type | family | published | acts on (field; action) | rests on (field) | conduct "
        "| rule input | credit decision | follow-up | summary |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, record_type in RECORD_EVENT_TYPES.items():
        traits = record_type.TRAITS
        cells = [
            f"`{name}`",
            traits.family,
            _published(traits),
            _acts_on(traits),
            _rests_on(traits),
            *(
                "yes" if flag else ""
                for flag in (
                    traits.conduct,
                    traits.rule_input,
                    traits.credit_decision,
                    traits.follow_up,
                )
            ),
            ", ".join(f"`{f}`" for f in traits.summary),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def test_the_table_of_record_types_is_the_declarations():
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START)
    shown, after = rest.split(END)
    shown = shown.strip("\n")
    wanted = record_types_table()
    if shown != wanted and os.environ.get("UPDATE_RECORD_TYPES_DOC"):
        DOC.write_text(f"{before}{START}\n{wanted}\n{END}{after}", encoding="utf-8")
        shown = wanted
    assert shown == wanted, (
        "docs/record-types.md differs from the declarations: rerun this test with "
        "UPDATE_RECORD_TYPES_DOC=1"
    )


def test_every_trait_says_what_it_drives():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## What each trait drives", 1)[1].split("\n## ", 1)[0]
    described = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    assert described == {f.name for f in dataclasses.fields(RecordTraits)}
