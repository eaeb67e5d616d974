"""Reading the model card: YAML or JSON, values kept as written, flags override fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmops_cli.errors import InputError
from fmops_cli.model_card import apply_overrides, find_model_card, load_model_card


def test_yaml_values_keep_the_characters_written(tmp_path: Path) -> None:
    # Given a YAML card whose values plain YAML would turn into a float, an int and a date
    card = tmp_path / "model-card.yaml"
    card.write_text("version: 1.10\nlineage:\n  code:\n    commit: 0123456\ntask: 2026-11-26\n")

    # When it is loaded
    document = load_model_card(card)

    # Then every value is the text that was written
    assert document == {"version": "1.10", "lineage": {"code": {"commit": "0123456"}}, "task": "2026-11-26"}


def test_null_and_empty_fields_count_as_not_given(tmp_path: Path) -> None:
    # Given a card with null, ~ and empty values, also inside lists
    card = tmp_path / "model-card.yaml"
    card.write_text("description:\nbase_model: null\nlineage:\n  datasets:\n    - name: reviews\n      uri: ~\n")

    # When it is loaded
    document = load_model_card(card)

    # Then those fields are absent, so defaults apply and required fields are reported missing
    assert document == {"lineage": {"datasets": [{"name": "reviews"}]}}


def test_a_json_card_is_read_as_json(tmp_path: Path) -> None:
    card = tmp_path / "model-card.json"
    card.write_text(json.dumps({"model_group": "churn", "risk_tier": "low", "code": None}))

    assert load_model_card(card) == {"model_group": "churn", "risk_tier": "low"}


def test_sample_requests_are_read_as_json_would_read_them(tmp_path: Path) -> None:
    # Given a YAML card whose sample request holds numbers, booleans, nulls and text that looks like them
    card = tmp_path / "model-card.yaml"
    card.write_text(
        "version: 1.10\n"
        "sample_requests:\n"
        "  - name: flow-style\n"
        '    request: {"inputs": "Great!", "parameters": {"max_new_tokens": 32, "temperature": 0.7,\n'
        '      "scale": 1e3, "sample": false, "stop": null, "seed": "42"}}\n'
        "  - name: block-style\n"
        "    request:\n"
        "      text: I love this product\n"
        "      tags: [yes, 0123, 2026-11-26, 1.10.2, ~]\n"
    )

    # When it is loaded
    document = load_model_card(card)

    # Then each request is what its JSON would be: quoted values and non-JSON literals stay text, nulls stay
    assert document["sample_requests"] == [
        {
            "name": "flow-style",
            "request": {
                "inputs": "Great!",
                "parameters": {
                    "max_new_tokens": 32,
                    "temperature": 0.7,
                    "scale": 1000.0,
                    "sample": False,
                    "stop": None,
                    "seed": "42",
                },
            },
        },
        {
            "name": "block-style",
            "request": {"text": "I love this product", "tags": ["yes", "0123", "2026-11-26", "1.10.2", None]},
        },
    ]
    # And the rest of the card keeps the characters written
    assert document["version"] == "1.10"


def test_a_null_sample_field_counts_as_not_given_and_samples_are_left_for_validation(tmp_path: Path) -> None:
    card = tmp_path / "model-card.yaml"
    card.write_text("sample_requests:\n  - name: ~\n    request: {}\n  - just text\n")

    assert load_model_card(card)["sample_requests"] == [{"request": {}}, "just text"]


@pytest.mark.parametrize("text", ["sample_requests:\n", "sample_requests: null\n"])
def test_null_sample_requests_count_as_not_given(tmp_path: Path, text: str) -> None:
    card = tmp_path / "model-card.yaml"
    card.write_text("kind: classic\n" + text)

    assert load_model_card(card) == {"kind": "classic"}


def test_a_json_card_keeps_the_nulls_of_its_sample_requests(tmp_path: Path) -> None:
    card = tmp_path / "model-card.json"
    samples = [{"name": "stop", "request": {"stop": None, "n": 1}}]
    card.write_text(json.dumps({"kind": "classic", "description": None, "sample_requests": samples}))

    assert load_model_card(card) == {"kind": "classic", "sample_requests": samples}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("model-card.yaml", "- just\n- a list\n", "must be a mapping"),
        ("model-card.yaml", "kind: [unclosed\n", "not valid YAML"),
        ("model-card.json", "{not json", "not valid JSON"),
        ("model-card.yaml", "", "is empty"),
        ("model-card.txt", "kind: classic\n", "must end in .yaml, .yml or .json"),
    ],
)
def test_unreadable_cards_are_input_errors(tmp_path: Path, name: str, text: str, expected: str) -> None:
    card = tmp_path / name
    card.write_text(text)

    with pytest.raises(InputError, match=expected):
        load_model_card(card)


def test_a_card_cannot_list_artifacts(tmp_path: Path) -> None:
    # Given a card that lists artifacts by hand
    card = tmp_path / "model-card.yaml"
    card.write_text("kind: classic\nartifacts:\n  - path: model.bin\n")

    # When it is loaded, Then it is refused with the reason: submit computes them
    with pytest.raises(InputError) as raised:
        load_model_card(card)
    assert "artifacts" in raised.value.message
    assert raised.value.hint is not None
    assert "lists the artifacts itself" in raised.value.hint


def test_a_missing_card_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_model_card(tmp_path / "model-card.yaml")


def test_the_folder_card_is_found_by_its_name(tmp_path: Path) -> None:
    (tmp_path / "model-card.json").write_text("{}")

    assert find_model_card(tmp_path) == tmp_path / "model-card.json"


def test_a_folder_without_a_card_says_which_names_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        find_model_card(tmp_path)

    assert raised.value.hint is not None
    assert "model-card.yaml" in raised.value.hint
    assert "model-card.json" in raised.value.hint


def test_two_cards_in_one_folder_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "model-card.yaml").write_text("kind: classic\n")
    (tmp_path / "model-card.json").write_text("{}")

    with pytest.raises(InputError, match=r"both model-card\.yaml and model-card\.json"):
        find_model_card(tmp_path)


def test_flags_override_the_card_and_merge_into_the_submitter() -> None:
    # Given a card with a group, a version and a submitter id
    card = {"model_group": "a", "version": "1", "submitter": {"id": "card-user", "email": "old@example.com"}}

    # When only the version and the submitter's e-mail are given as flags
    merged = apply_overrides(card, model_group=None, version="2", submitter_id=None, submitter_email="new@example.com")

    # Then those two change and the rest of the card stays
    assert merged == {"model_group": "a", "version": "2", "submitter": {"id": "card-user", "email": "new@example.com"}}
    assert card["version"] == "1"  # the card itself is not modified


def test_submitter_flags_create_the_submitter_when_the_card_has_none() -> None:
    merged = apply_overrides({}, submitter_id="ana", submitter_email="ana@example.com")

    assert merged == {"submitter": {"id": "ana", "email": "ana@example.com"}}
