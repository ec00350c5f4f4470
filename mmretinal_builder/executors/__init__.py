"""Executors beyond the local process pool (see :class:`mmretinal_builder.runner.Executor`)."""
