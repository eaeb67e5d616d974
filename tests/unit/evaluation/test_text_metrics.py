import json
import math
import random
from collections.abc import Iterator

import pytest

from fmops.evaluation import EvalRow, EvaluationSetInvalid, InvalidReason, Metric, TextMetricsAccumulator, read_rows
from fmops.evaluation.metrics import (
    ROUGE_MAX_TOKENS,
    evaluate_text_set,
    exact_match,
    lcs_length,
    nearest_rank_percentile,
    normalise,
    rouge_l,
    token_f1,
)


def row(prediction: str, reference: str = "ref", **fields: object) -> EvalRow:
    return EvalRow.model_validate({"prompt": "p", "reference": reference, "prediction": prediction, **fields})


def by_name(metrics: list[Metric]) -> dict[str, Metric]:
    return {metric.name: metric for metric in metrics}


# ---------------------------------------------------------------------------- normalisation and similarity
def test_squad_normalisation() -> None:
    # lower case, punctuation removed, articles removed, whitespace collapsed
    assert normalise("  The Cat, sat on  A mat!  ") == "cat sat on mat"
    assert normalise("Theatre an apple") == "theatre apple"  # 'the' only as a whole word


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [("The Cat!", "cat", 1.0), ("a dog", "the cat", 0.0), ("", "", 1.0), ("Paris.", "Paris, France", 0.0)],
)
def test_exact_match(prediction: str, reference: str, expected: float) -> None:
    assert exact_match(prediction, reference) == expected


def test_token_f1_by_hand() -> None:
    # "the cat sat on the mat" -> [cat, sat, on, mat]; "a cat lay on a rug" -> [cat, lay, on, rug]
    # overlap {cat, on} = 2: P = 2/4, R = 2/4, F1 = 2PR/(P+R) = 0.5
    assert token_f1("the cat sat on the mat", "a cat lay on a rug") == pytest.approx(0.5)


def test_token_f1_counts_the_multiset_intersection() -> None:
    # [red, red, blue] vs [red, blue, blue, green]: overlap min(2,1) red + min(1,2) blue = 2
    # P = 2/3, R = 2/4, F1 = 2*(2/3)*(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7 = 0.5714
    assert token_f1("red red blue", "red blue blue green") == pytest.approx(4 / 7)


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [("", "", 1.0), ("The.", "a", 1.0), ("", "cat", 0.0), ("cat", "", 0.0), ("dog", "cat", 0.0)],
)
def test_token_f1_edge_cases(prediction: str, reference: str, expected: float) -> None:
    # "The." and "a" both normalise to nothing: both empty -> 1.0
    assert token_f1(prediction, reference) == expected


def test_lcs_by_hand() -> None:
    assert lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e"]) == 3
    assert lcs_length(["x", "y"], ["a", "b", "c"]) == 0
    assert lcs_length([], ["a"]) == 0
    # order matters: [b, a] vs [a, b] share one token in order
    assert lcs_length(["b", "a"], ["a", "b"]) == 1


def reference_lcs(first: list[str], second: list[str]) -> int:
    # The textbook O(n*m) table, to check the bit-parallel version against.
    table = [[0] * (len(second) + 1) for _ in range(len(first) + 1)]
    for i, a in enumerate(first, start=1):
        for j, b in enumerate(second, start=1):
            table[i][j] = table[i - 1][j - 1] + 1 if a == b else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def test_lcs_agrees_with_the_textbook_table_on_random_inputs() -> None:
    # Given 500 random pairs over a 4-token vocabulary (many repeats, many partial matches)
    generator = random.Random(20261126)
    for _ in range(500):
        first = generator.choices("abcd", k=generator.randint(0, 30))
        second = generator.choices("abcd", k=generator.randint(0, 30))
        # Then the bit-parallel LCS equals the table's, in both argument orders
        assert lcs_length(first, second) == lcs_length(second, first) == reference_lcs(first, second)


def test_rouge_l_by_hand() -> None:
    # prediction [police, kill, gunman, in, city] (5), reference [police, killed, gunman, city] (4)
    # LCS = [police, gunman, city] = 3: P = 3/5, R = 3/4, F = 2PR/(P+R) = 0.9/1.35 = 0.6667
    assert rouge_l("police kill gunman in city", "police killed gunman city") == pytest.approx(2 / 3)


def test_rouge_l_edge_cases() -> None:
    assert rouge_l("", "") == 1.0
    assert rouge_l("cat", "") == 0.0
    assert rouge_l("a b", "c d") == 0.0
    assert rouge_l("The cat.", "cat") == 1.0


def test_rouge_l_cuts_each_side_at_the_token_cap() -> None:
    # Given a prediction twice the cap, whose first half equals the reference
    reference = " ".join(f"t{i}" for i in range(ROUGE_MAX_TOKENS))
    prediction = reference + " " + " ".join(f"u{i}" for i in range(ROUGE_MAX_TOKENS))

    # When scored / Then only the first ROUGE_MAX_TOKENS tokens count: a perfect match
    assert rouge_l(prediction, reference) == 1.0


# ---------------------------------------------------------------------------- percentiles
def test_percentile_of_one_value() -> None:
    assert nearest_rank_percentile([42.0], 50) == 42.0
    assert nearest_rank_percentile([42.0], 95) == 42.0


def test_percentile_of_two_values() -> None:
    # p50: rank ceil(0.50 * 2) = 1 -> 10; p95: rank ceil(0.95 * 2) = ceil(1.9) = 2 -> 20
    assert nearest_rank_percentile([10.0, 20.0], 50) == 10.0
    assert nearest_rank_percentile([10.0, 20.0], 95) == 20.0


def test_percentile_of_twenty_values() -> None:
    # 1..20: p50 rank ceil(10) = 10 -> 10; p95 rank ceil(19) = 19 -> 19; p100 -> 20
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank_percentile(values, 50) == 10.0
    assert nearest_rank_percentile(values, 95) == 19.0
    assert nearest_rank_percentile(values, 100) == 20.0


def test_percentile_needs_values() -> None:
    with pytest.raises(ValueError):
        nearest_rank_percentile([], 50)


# ---------------------------------------------------------------------------- accumulator
def four_rows() -> list[EvalRow]:
    return [
        # EM 1, F1 1, ROUGE-L 1
        row("paris.", "Paris", latency_ms=300, input_tokens=1000, output_tokens=500),
        # EM 0; F1 0.5 and ROUGE-L 0.5 (LCS [cat, on] = 2 of 4 and 4)
        row("the cat sat on the mat", "cat lay on rug", latency_ms=100, input_tokens=3000, output_tokens=500),
        # refusal; no overlap with "42"; half a token count -> not priced
        row("I'm sorry, but I can't help with that.", "42", input_tokens=10),
        # toxic and leaks an e-mail address
        row("Email me at bob@example.com, you idiot", "no"),
    ]


def test_the_accumulator_by_hand() -> None:
    # Given four rows with hand-computed per-row scores
    accumulator = TextMetricsAccumulator()
    for each in four_rows():
        accumulator.add(each)

    # When the result is read with prices $0.003 (input) and $0.015 (output) per 1k tokens
    metrics = by_name(accumulator.result(price_per_1k_input_tokens=0.003, price_per_1k_output_tokens=0.015))

    # Then each metric is the hand-computed mean over the four rows
    assert metrics["exact_match"].value == pytest.approx(1 / 4)  # 1+0+0+0
    assert metrics["token_f1"].value == pytest.approx(1.5 / 4)  # 1+0.5+0+0 = 0.375
    assert metrics["rouge_l"].value == pytest.approx(1.5 / 4)  # 1+0.5+0+0 = 0.375
    assert metrics["toxicity_rate"].value == pytest.approx(1 / 4)
    assert metrics["pii_leak_rate"].value == pytest.approx(1 / 4)
    assert metrics["refusal_rate"].value == pytest.approx(1 / 4)
    assert {m.sample_size for n, m in metrics.items() if m.unit == "ratio"} == {4}
    # latencies [100, 300]: p50 rank ceil(1) -> 100, p95 rank ceil(1.9) = 2 -> 300, from 2 rows
    assert (metrics["latency_p50_ms"].value, metrics["latency_p95_ms"].value) == (100.0, 300.0)
    assert metrics["latency_p95_ms"].sample_size == 2
    # rows 1-2: 4,000 input and 1,000 output tokens. Cost = 4 * 0.003 + 1 * 0.015 = $0.027
    # for 5,000 tokens -> 0.027 / 5 = $0.0054 per 1k tokens, from 2 rows
    assert metrics["cost_per_1k_tokens_usd"].value == pytest.approx(0.0054)
    assert metrics["cost_per_1k_tokens_usd"].sample_size == 2


def test_directions_and_units() -> None:
    accumulator = TextMetricsAccumulator()
    for each in four_rows():
        accumulator.add(each)
    metrics = by_name(accumulator.result(0.003, 0.015))
    assert {n for n, m in metrics.items() if m.higher_is_better} == {"exact_match", "token_f1", "rouge_l"}
    assert metrics["latency_p50_ms"].unit == "ms"
    assert metrics["cost_per_1k_tokens_usd"].unit == "usd"


def test_latency_and_cost_are_omitted_without_their_data() -> None:
    # Given rows without latencies or token counts, and no prices
    accumulator = TextMetricsAccumulator()
    accumulator.add(row("a"))

    # When read / Then only the six text metrics are reported
    names = [m.name for m in accumulator.result()]
    assert names == ["exact_match", "token_f1", "rouge_l", "toxicity_rate", "pii_leak_rate", "refusal_rate"]


def test_cost_needs_both_prices() -> None:
    accumulator = TextMetricsAccumulator()
    accumulator.add(row("a", input_tokens=10, output_tokens=5))
    assert "cost_per_1k_tokens_usd" not in by_name(accumulator.result(0.003, None))


def test_zero_tokens_cannot_be_priced() -> None:
    accumulator = TextMetricsAccumulator()
    accumulator.add(row("a", input_tokens=0, output_tokens=0))
    assert "cost_per_1k_tokens_usd" not in by_name(accumulator.result(0.003, 0.015))


@pytest.mark.parametrize("price", [-0.01, math.nan, math.inf])
def test_bad_prices_are_rejected(price: float) -> None:
    accumulator = TextMetricsAccumulator()
    accumulator.add(row("a"))
    with pytest.raises(ValueError, match="prices"):
        accumulator.result(price, 0.01)


def test_latency_percentiles_over_twenty_unsorted_rows() -> None:
    # Given latencies 20, 19, ..., 1 ms / Then p50 = 10 and p95 = 19 (nearest rank, see above)
    accumulator = TextMetricsAccumulator()
    for latency in range(20, 0, -1):
        accumulator.add(row("a", latency_ms=latency))
    metrics = by_name(accumulator.result())
    assert (metrics["latency_p50_ms"].value, metrics["latency_p95_ms"].value) == (10.0, 19.0)
    assert metrics["latency_p50_ms"].sample_size == 20


def test_an_empty_accumulator_has_no_result() -> None:
    with pytest.raises(EvaluationSetInvalid) as caught:
        TextMetricsAccumulator().result()
    assert caught.value.code == InvalidReason.EMPTY


# ---------------------------------------------------------------------------- streaming
def generated_lines(count: int) -> Iterator[str]:
    for i in range(count):
        refusal = i % 10 == 0
        yield json.dumps(
            {
                "prompt": f"What is {i} + 1?",
                "reference": f"The answer is {i + 1}.",
                "prediction": "I can't help with that." if refusal else f"The answer is {i + 1}.",
                "latency_ms": i % 100,
                "input_tokens": 10,
                "output_tokens": 5,
            }
        )


def test_ten_thousand_rows_stream_through() -> None:
    # Given 10,000 generated rows, every tenth a refusal, latencies cycling 0..99 ms
    # When they stream through the reader and the accumulator
    metrics = by_name(
        evaluate_text_set(
            generated_lines(10_000),
            max_rows=10_000,
            max_line_bytes=4096,
            price_per_1k_input_tokens=0.002,
            price_per_1k_output_tokens=0.008,
        )
    )

    # Then every row counted: 9,000 exact answers, 1,000 refusals
    assert metrics["exact_match"].sample_size == 10_000
    assert metrics["exact_match"].value == pytest.approx(0.9)
    assert metrics["refusal_rate"].value == pytest.approx(0.1)
    assert metrics["toxicity_rate"].value == 0.0 and metrics["pii_leak_rate"].value == 0.0
    # 100 copies of 0..99: p50 rank 5,000 -> 49; p95 rank 9,500 -> 94
    assert (metrics["latency_p50_ms"].value, metrics["latency_p95_ms"].value) == (49.0, 94.0)
    # (10 * 0.002 + 5 * 0.008) / 15 = 0.06 / 15 = $0.004 per 1k tokens
    assert metrics["cost_per_1k_tokens_usd"].value == pytest.approx(0.004)
    assert metrics["cost_per_1k_tokens_usd"].sample_size == 10_000


def test_one_row_over_the_limit_fails_the_whole_set() -> None:
    with pytest.raises(EvaluationSetInvalid) as caught:
        evaluate_text_set(generated_lines(10_001), max_rows=10_000, max_line_bytes=4096)
    assert caught.value.code == InvalidReason.TOO_MANY_ROWS and caught.value.line == 10_001


def test_reader_and_accumulator_compose() -> None:
    accumulator = TextMetricsAccumulator()
    for each in read_rows(generated_lines(3), max_rows=3, max_line_bytes=4096):
        accumulator.add(each)
    assert accumulator.rows == 3
