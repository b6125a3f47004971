"""Opening a file skips jsonschema when a hand check finds the document plain (start-up time,
issue 14). That check must never pass what the schema refuses: held to the schema here, on
every template and on documents mutated in every field the check looks at."""
from __future__ import annotations

import copy

from hypothesis import given, settings, strategies as st

from core import project as project_module
from core.templates import EXAMPLES, TEMPLATES

DOCS = [make().to_dict() for make in [t.build for t in TEMPLATES.values()] + list(EXAMPLES.values())]

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False),
    st.text(max_size=3), st.sampled_from(["", "x" * 201, "hidden", "sigmoid", "input", "σ"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(),
                                                         max_size=2))


def _schema_accepts(doc) -> bool:
    whole, _, _ = project_module._schema_validators()
    return not any(True for _ in whole.iter_errors(doc))


@st.composite
def mutated(draw):
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "neuron", "edge", "goal"]))
        if where == "top":
            target = doc
        elif where == "goal":
            if not isinstance(doc.get("goal"), dict):
                doc["goal"] = {"loss": 0.1, "epochs": 10}
            target = doc["goal"]
        else:
            items = doc.get("neurons" if where == "neuron" else "edges")
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                continue
            target = items[draw(st.integers(0, len(items) - 1))]
        keys = sorted(target) + ["extra", "format", "role", "activation", "id", "weight"]
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(ODD_VALUES)
    return doc


def test_every_template_is_plain_and_valid():
    for doc in DOCS:
        assert project_module._plain_document(doc)
        assert _schema_accepts(doc)


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_the_hand_check_never_passes_what_the_schema_refuses(doc):
    if project_module._plain_document(doc):
        assert _schema_accepts(doc), doc
