"""PDF ingest: a page model independent of the PDF library, and the born-digital reader that fills it.

Caption detection, figure candidates and pairing work on :class:`~mmretinal_builder.pdf.page_model.PageModel`
only, so lines read by OCR from scanned pages reuse them unchanged.
"""
