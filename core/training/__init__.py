"""Training: the Trainer that steps a network on a dataset (trainer), the account of the user's
edits it adopts (edit_tracker), the loss and accuracy series a run records (loss_history), the
optimiser race on a loss plane (race), the loop the window's training process runs (loop) with
the Progress it reports (progress), and the live state the window's panels draw (live_state)."""
