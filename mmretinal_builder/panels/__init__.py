"""Compound figures: panel boxes (:mod:`.split`), panel letters (:mod:`.labels`), sub-captions
(:mod:`.subcaptions`), their assignment to panels (:mod:`.assign`) and the evaluation (:mod:`.evaluate`)."""
