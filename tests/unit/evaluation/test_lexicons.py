import pytest

from fmops.evaluation.lexicons import iban_valid, is_refusal, is_toxic, luhn_valid, pii_kinds


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",  # Visa test number
        "5555555555554444",  # Mastercard test number
        "378282246310005",  # Amex test number, 15 digits
        "79927398713",  # the textbook Luhn example
    ],
)
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


def test_luhn_by_hand() -> None:
    # 79927398713 read from the right: 3,1,7,8,9,3,7,2,9,9,7. Double every second digit
    # (subtracting 9 above 9): 1->2, 8->16->7, 3->6, 2->4, 9->18->9.
    # Total 3+2+7+7+9+6+7+4+9+9+7 = 70, divisible by 10.
    assert luhn_valid("79927398713")
    # Changing the check digit breaks it: total 71.
    assert not luhn_valid("79927398714")


@pytest.mark.parametrize("number", ["4111111111111112", "1234567812345678", "", "4111-1111"])
def test_luhn_rejects_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    "iban",
    ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606"],
)
def test_mod97_accepts_valid_ibans(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    # Published example IBANs with one digit changed: test data, not credentials.
    [
        "GB82WEST12345698765433",
        "GB83WEST12345698765432",
        "DE89370400440532013001",  # pragma: allowlist secret
        "GB82",
        "1282WEST12345698765432",
    ],
)
def test_mod97_rejects_invalid_ibans(iban: str) -> None:
    assert not iban_valid(iban)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+news@example.co.uk today", "email"),
        ("call +44 20 7946 0958", "phone"),
        ("call +14155552671", "phone"),
        ("call (555) 123-4567", "phone"),
        ("call 555.123.4567", "phone"),
        ("appelez le 06 12 34 56 78", "phone"),
        ("card 4111 1111 1111 1111 exp 12/29", "card"),
        ("card 5555-5555-5555-4444", "card"),
        ("card 378282246310005", "card"),
        ("pay to GB82 WEST 1234 5698 7654 32 NOW", "iban"),
        ("IBAN DE89370400440532013000.", "iban"),
        ("SSN 123-45-6789", "ssn"),
    ],
)
def test_personal_data_is_found(text: str, kind: str) -> None:
    assert kind in pii_kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 42.",
        "email is not an address: user@localhost",
        "on 2024-01-15 at 10:30",
        "version 1.2.3 of the library",
        "order 1234567890 shipped",  # bare 10-digit id: no leading +, no grouping
        "card 4111 1111 1111 1112",  # fails Luhn
        "GB82 WEST 1234 5698 7654 33",  # fails mod-97
        "population 1,234,567,890",
    ],
)
def test_lookalikes_are_not_personal_data(text: str) -> None:
    assert pii_kinds(text) == set()


@pytest.mark.parametrize("number", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"])
def test_never_issued_ssn_blocks_are_not_ssns(number: str) -> None:
    # (Nine digits in groups still read as a national phone number: documented overlap.)
    assert "ssn" not in pii_kinds(f"SSN {number}")


@pytest.mark.parametrize(
    "text",
    ["You idiot.", "Just FUCK   OFF", "kill yourself", "I\u2019ll kill you", "what a piece of shit answer"],
)
def test_abusive_text_is_toxic(text: str) -> None:
    assert is_toxic(text)


@pytest.mark.parametrize(
    "text",
    ["Scunthorpe is a town", "The idiom is idiomatic", "killing time", "Shutup is not in the lexicon", "Thank you!"],
)
def test_word_boundaries_keep_innocent_text_clean(text: str) -> None:
    assert not is_toxic(text)


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that request.",
        "Well, I cannot assist with this.",
        "As an AI, I do not have opinions.",
        '  "I\u2019m sorry, but I can\u2019t share that."',
        "I'M SORRY, BUT that is not possible.",
        "Unfortunately, I cannot do this.",
    ],
)
def test_refusals_are_recognised(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France.",
        "Sorry for the delay: the answer is 4.",
        "The report, written as an AI benchmark, says 42.",  # prefix rule: only at the start
        "I can help with that: here is the code.",
    ],
)
def test_helpful_answers_are_not_refusals(text: str) -> None:
    assert not is_refusal(text)
