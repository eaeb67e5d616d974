"""The built-in evaluator of text-to-text models: evaluation-set reader and pure metrics."""

from fmops.evaluation.dataset import EvalRow, EvaluationSetInvalid, InvalidReason, read_rows, split_lines
from fmops.evaluation.metrics import TextMetricsAccumulator, evaluate_text_set
from fmops.metrics import Metric

__all__ = [
    "EvalRow",
    "EvaluationSetInvalid",
    "InvalidReason",
    "Metric",
    "TextMetricsAccumulator",
    "evaluate_text_set",
    "read_rows",
    "split_lines",
]
