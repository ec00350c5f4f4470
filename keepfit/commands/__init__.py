"""``keepfit`` command groups; each module defines ``register(app)`` (see ``keepfit/cli.py``)."""

MODULES: list[str] = [
    "keepfit.commands.train",
    "keepfit.commands.evaluate",
    "keepfit.commands.export",
]
