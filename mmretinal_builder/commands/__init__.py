"""CLI command groups. Each module defines ``register(app)``; ``cli.py`` loads the ones listed in
:data:`MODULES` so that areas of the builder add commands without editing one shared file."""

MODULES: list[str] = [
    "mmretinal_builder.commands.build",
    "mmretinal_builder.commands.samples",
    "mmretinal_builder.commands.extraction",
    "mmretinal_builder.commands.curation",
    "mmretinal_builder.commands.export",
    "mmretinal_builder.commands.review",
    "mmretinal_builder.commands.trace",
]
