"""Curation: caption cleaning, modality and retinal decision, quality checks, near-duplicate search."""
