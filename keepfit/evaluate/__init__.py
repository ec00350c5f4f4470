"""Evaluation: zero-shot, linear probe, few-shot adapters, retrieval, metrics and reports.

The entry points most callers need are re-exported here; heavy modules load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate_demo", "retrieval_metrics", "classification_metrics"]


def __getattr__(name: str) -> Any:
    if name == "evaluate_demo":
        from .demo import evaluate_demo

        return evaluate_demo
    if name == "retrieval_metrics":
        from .retrieval import retrieval_metrics

        return retrieval_metrics
    if name == "classification_metrics":
        from .metrics import classification_metrics

        return classification_metrics
    raise AttributeError(name)
