"""KeepFIT: knowledge-enhanced fundus image-text pretraining (models, losses, training, evaluation)."""
