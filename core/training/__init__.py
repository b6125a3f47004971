"""Training: the Trainer that steps a network on a dataset (trainer), the loss and accuracy
series a run records (loss_history), the optimiser race on a loss plane (race), and the loop the
window's training process runs (loop), with the Progress it reports (progress)."""
