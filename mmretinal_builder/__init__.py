"""mmretinal_builder: turn fundus atlases (PDF books) into an image-text dataset.

CPU only; never imports torch. Start with ``ARCHITECTURE.md`` at the repository root.
"""

__version__ = "0.1.0"
