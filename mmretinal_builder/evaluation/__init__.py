"""Evaluation against ground truth: extraction (figures, captions, pairs, modality) and panels."""
