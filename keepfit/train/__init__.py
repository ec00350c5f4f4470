"""The KeepFIT training program (the library it uses: :mod:`keepfit.model`, :mod:`keepfit.loss`,
:mod:`keepfit.knowledge`, :mod:`keepfit.prompts`, :mod:`keepfit.hub`).

Reading order: ``config.py`` (what a run is), ``objective.py`` (what one step computes), ``loop.py`` (the
loop, top to bottom); then the helpers ``datasets.py``, ``batches.py``, ``augment.py``, ``optim.py``,
``monitor.py``, ``runtime.py``; ``synthetic.py`` generates the demo's stand-in data.
"""

from .loop import train

__all__ = ["train"]
