"""Export a run as a Hugging Face dataset (parquet shards + dataset card) or as FLAIR/KeepFIT CSV."""

from .exporter import ExportOptions, ExportResult, export_pairs, export_run

__all__ = ["ExportOptions", "ExportResult", "export_pairs", "export_run"]
