"""Scanned pages and broken text layers: deskew, figure regions, Tesseract, OCR lines and their repairs."""
