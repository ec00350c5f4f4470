"""Pipeline stages: each module holds one :class:`~mmretinal_builder.stage.Stage` subclass."""
