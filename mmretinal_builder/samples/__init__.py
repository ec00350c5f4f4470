"""Synthetic fundus atlases with exact ground truth, for testing figure/caption extraction.

`generate_samples(out_dir, seed=...)` writes PDFs (born-digital, scanned and broken-text variants) and a
`ground_truth.json` in the PALM ground-truth format, extended with kinds, panel boxes, sub-captions, tables.
"""

from .generate import generate_samples, write_books

__all__ = ["generate_samples", "write_books"]
