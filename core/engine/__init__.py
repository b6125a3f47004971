"""The engine: a network compiled into a Plan (core.engine.plan), its forward and backward
passes (core.engine.backprop) in arrays sliced per level once (core.engine.pass_arrays), the
fast path for plain layered nets (core.engine.layered), the forward pass for many points of a
parameter plane at once (core.engine.stacked), the Numba kernels for small nets' training
steps and float32 loss grids (core.engine.compiled, core.engine.compiled_grid), a recurrent
net unrolled over time with backpropagation through time (core.engine.recurrent), the whole
Hessian's columns by the R-operator (core.engine.hessian_columns), and the loss along a plane
to second order (core.engine.plane_taylor: the surface's arrows).

The names most callers need are importable from here."""
from core.engine.backprop import (Backward, Forward, NeuronValues, backward, check_loss,
                                  forward, inspect_sample, loss_and_gradients,
                                  loss_and_output_grad, mask_frozen, predict)
from core.engine.plan import Level, Params, Plan, compile_plan, plan_for
from core.engine.stacked import PlaneForward

__all__ = ["Backward", "Forward", "Level", "NeuronValues", "Params", "Plan", "backward",
           "check_loss", "compile_plan", "forward", "inspect_sample", "loss_and_gradients",
           "loss_and_output_grad", "mask_frozen", "plan_for", "PlaneForward", "predict"]
