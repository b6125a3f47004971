"""Training: the Trainer that steps a network on a dataset (trainer), the loss and accuracy
series a run records (loss_history) and the optimiser race on a loss plane (race)."""
