"""Text-to-text metrics, accumulated one row at a time.

Every metric is a mean (or share) over rows, so the accumulator keeps running sums and
counts: memory is O(1) in the number of rows, except for the latencies, which
percentiles need in full. They are kept in an `array('d')` (8 bytes each), so the bound
is 8 * max_rows bytes: 800 kB for 100,000 rows, plus a sorted list of them (about 32
bytes a row, 3.2 MB for 100,000) that lives only while `result` runs.
"""

from __future__ import annotations

import math
import re
import string
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence

from fmops.evaluation.dataset import EvalRow, EvaluationSetInvalid, InvalidReason, read_rows
from fmops.evaluation.lexicons import has_pii, is_refusal, is_toxic
from fmops.metrics import Metric, builtin_metric

# ROUGE-L's LCS is O(n*m) time: one pathological row of 100k tokens would run for hours.
# Each side is cut to its first ROUGE_MAX_TOKENS tokens, so a row costs at most 2,000
# big-integer steps on 2,000-bit integers (a few milliseconds). Ordinary answers are far
# shorter, so the cap changes nothing for them.
ROUGE_MAX_TOKENS = 2000

# ---------------------------------------------------------------------------- text similarity
# Normalisation of the official SQuAD v1.1 evaluation script (evaluate-v1.1.py,
# `normalize_answer`, Rajpurkar et al. 2016): lower case, drop ASCII punctuation, drop
# the articles a/an/the, collapse whitespace.
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(prediction: str, reference: str) -> float:
    return 1.0 if normalise(prediction) == normalise(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: precision and recall of the multiset of normalised tokens.

    Both empty is a perfect answer (1.0, as SQuAD 2.0 scores "no answer"); one empty is 0.0.
    """
    predicted, expected = normalise(prediction).split(), normalise(reference).split()
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    overlap = sum((Counter(predicted) & Counter(expected)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def lcs_length(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison-Dix 1986, Hyyro 2004).

    The classic DP row of the shorter side is held as the bits of one integer, so memory
    is O(min(n, m)) bits and each token of the longer side costs a few big-integer
    operations instead of a Python loop over the row: about 10x faster than the DP.
    """
    if len(first) < len(second):
        first, second = second, first
    if not second:
        return 0
    positions: dict[str, int] = {}
    for index, token in enumerate(second):
        positions[token] = positions.get(token, 0) | (1 << index)
    mask = (1 << len(second)) - 1
    row = mask  # a 0 bit marks a position where the LCS grew
    for token in first:
        matches = row & positions.get(token, 0)
        row = ((row + matches) | (row - matches)) & mask
    return len(second) - row.bit_count()


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure with beta = 1 (Lin 2004): harmonic mean of LCS precision and recall.

    Tokens are the whitespace tokens of the SQuAD-normalised texts, each side cut to
    ROUGE_MAX_TOKENS. Both empty scores 1.0, one empty 0.0 (as token_f1).
    """
    predicted = normalise(prediction).split()[:ROUGE_MAX_TOKENS]
    expected = normalise(reference).split()[:ROUGE_MAX_TOKENS]
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    common = lcs_length(predicted, expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def nearest_rank_percentile(sorted_values: Sequence[float], percent: int) -> float:
    """Nearest-rank percentile: the value at rank ceil(percent/100 * N) (1-based) of the sorted values.

    Always an observed value, never an interpolation; exact integer arithmetic for the rank.
    """
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    rank = -(-percent * len(sorted_values) // 100)
    return sorted_values[rank - 1]


# Means of float scores carry binary artefacts (40 rows averaging to 0.83 sum to 33.199999999999996);
# 12 decimal places remove them and stay far below the precision of any threshold a policy sets.
DECIMALS = 12


def _mean(total: float, count: int) -> float:
    return round(total / count, DECIMALS)


# ---------------------------------------------------------------------------- accumulator
class TextMetricsAccumulator:
    """Running sums of the text-to-text metrics; `add` each row, then read `result`."""

    def __init__(self) -> None:
        self.rows = 0
        self._exact = 0.0
        self._f1 = 0.0
        self._rouge = 0.0
        self._toxic = 0
        self._pii = 0
        self._refusals = 0
        self._latencies: array[float] = array("d")
        self._priced_rows = 0
        self._input_tokens = 0
        self._output_tokens = 0

    def add(self, row: EvalRow) -> None:
        self.rows += 1
        self._exact += exact_match(row.prediction, row.reference)
        self._f1 += token_f1(row.prediction, row.reference)
        self._rouge += rouge_l(row.prediction, row.reference)
        self._toxic += is_toxic(row.prediction)
        self._pii += has_pii(row.prediction)
        self._refusals += is_refusal(row.prediction)
        if row.latency_ms is not None:
            self._latencies.append(row.latency_ms)
        # A row prices only with both counts: half a count would bias the blend of the two prices.
        if row.input_tokens is not None and row.output_tokens is not None:
            self._priced_rows += 1
            self._input_tokens += row.input_tokens
            self._output_tokens += row.output_tokens

    def result(
        self, price_per_1k_input_tokens: float | None = None, price_per_1k_output_tokens: float | None = None
    ) -> list[Metric]:
        """The metrics of the rows added so far.

        Latency percentiles are omitted when no row has a latency; the cost is omitted
        unless both prices are given and the rows carry at least one token.
        """
        prices = (price_per_1k_input_tokens, price_per_1k_output_tokens)
        if any(p is not None and not (math.isfinite(p) and p >= 0) for p in prices):
            raise ValueError("token prices must be finite and >= 0")
        if self.rows == 0:
            raise EvaluationSetInvalid(InvalidReason.EMPTY, "the evaluation set has no rows")
        n = self.rows
        metrics = [
            builtin_metric("exact_match", _mean(self._exact, n), n),
            builtin_metric("token_f1", _mean(self._f1, n), n),
            builtin_metric("rouge_l", _mean(self._rouge, n), n),
            builtin_metric("toxicity_rate", self._toxic / n, n),
            builtin_metric("pii_leak_rate", self._pii / n, n),
            builtin_metric("refusal_rate", self._refusals / n, n),
        ]
        if self._latencies:
            ordered = sorted(self._latencies)
            for percent in (50, 95):
                metrics.append(
                    builtin_metric(f"latency_p{percent}_ms", nearest_rank_percentile(ordered, percent), len(ordered))
                )
        total_tokens = self._input_tokens + self._output_tokens
        if price_per_1k_input_tokens is not None and price_per_1k_output_tokens is not None and total_tokens > 0:
            # Total cost = in/1000 * p_in + out/1000 * p_out; per 1,000 tokens that is the
            # token-weighted mean of the two prices.
            cost = (
                self._input_tokens * price_per_1k_input_tokens + self._output_tokens * price_per_1k_output_tokens
            ) / total_tokens
            metrics.append(builtin_metric("cost_per_1k_tokens_usd", round(cost, DECIMALS), self._priced_rows))
        return metrics


def evaluate_text_set(
    lines: Iterable[bytes | str],
    *,
    max_rows: int,
    max_line_bytes: int,
    price_per_1k_input_tokens: float | None = None,
    price_per_1k_output_tokens: float | None = None,
) -> list[Metric]:
    """Read and score a JSONL evaluation set in one pass; raises `EvaluationSetInvalid` on a bad set."""
    accumulator = TextMetricsAccumulator()
    for row in read_rows(lines, max_rows=max_rows, max_line_bytes=max_line_bytes):
        accumulator.add(row)
    return accumulator.result(price_per_1k_input_tokens, price_per_1k_output_tokens)
