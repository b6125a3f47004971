"""The compiled path's training loop, as plain Python for Numba: K minibatch steps of
forward, backward, penalty, clipping and update on one parameter vector theta (Plan.flatten's
order: edges, then biases), walking the graph edge by edge.

Not imported: core.engine.compiled copies this text into a generated module after the
per-registry dispatchers it calls (act_forward, act_backward, loss_sample, opt_update) and
compiles it there, so the disk cache is keyed to that module (see compiled.py for why).

Rows are the plan's (inputs first, then by depth): every edge goes from a lower row to a
higher one, so rows in order are a topological order and reversed the backward order
(micrograd's walk, with dL/da accumulated with += over each neuron's outgoing edges).
"""
import math


def _sign(w):
    return 1.0 if w > 0.0 else -1.0 if w < 0.0 else w


def forward_backward(x, y, idx, lo, b, n_in, in_ptr, in_src, in_pos, bias_pos, act_kind,
                     out_rows, theta, loss_kind, wrt_net, g, za, aa, ga, dl, zv, av, yv, gv):
    """The batch idx[lo:lo+b]: its mean loss, and its gradient written into g."""
    n = in_ptr.size - 1
    for j in range(b):
        s = idx[lo + j]
        for i in range(n_in):
            aa[i, j] = x[s, i]
    for r in range(n_in, n):
        zr = za[r]
        weighted_sum(zr, in_ptr[r], in_ptr[r + 1], in_src, in_pos, theta, aa, b)
        bias = theta[bias_pos[r]]
        for j in range(b):
            zr[j] += bias
        act_forward(act_kind[r], zr, aa[r], b)
        for j in range(b):
            ga[r, j] = 0.0
            dl[r, j] = 0.0
    value = 0.0
    for j in range(b):
        s = idx[lo + j]
        for o in range(out_rows.size):
            zv[o] = za[out_rows[o], j]
            av[o] = aa[out_rows[o], j]
            yv[o] = y[s, o]
        value += loss_sample(loss_kind, zv, av, yv, gv, b)
        for o in range(out_rows.size):
            if wrt_net:
                dl[out_rows[o], j] = gv[o]
            else:
                ga[out_rows[o], j] = gv[o]
    for r in range(n - 1, n_in - 1, -1):
        act_backward(act_kind[r], za[r], aa[r], ga[r], dl[r], b)
        dr = dl[r]
        total = 0.0
        for j in range(b):
            total += dr[j]
        g[bias_pos[r]] = total
        edge_gradients(dr, in_ptr[r], in_ptr[r + 1], in_src, in_pos, aa, g, b)
        for e in range(in_ptr[r], in_ptr[r + 1]):
            src = in_src[e]
            if src >= n_in:  # dL/da of a hidden source (inputs need none) += w dL/dz
                w = theta[in_pos[e]]
                gs = ga[src]
                for j in range(b):
                    gs[j] += w * dr[j]
    return value


def weighted_sum(zr, e, end, in_src, in_pos, theta, aa, b):
    """zr = the sum over edges e..end-1 of weight x source activation, added edge by edge."""
    for j in range(b):
        zr[j] = 0.0
    while e + 4 <= end:  # four edges a pass: zr read and written once for four
        w0, w1, w2, w3 = (theta[in_pos[e]], theta[in_pos[e + 1]], theta[in_pos[e + 2]],
                          theta[in_pos[e + 3]])
        a0, a1, a2, a3 = aa[in_src[e]], aa[in_src[e + 1]], aa[in_src[e + 2]], aa[in_src[e + 3]]
        for j in range(b):  # left to right: the one-edge loop's order of additions
            zr[j] = zr[j] + w0 * a0[j] + w1 * a1[j] + w2 * a2[j] + w3 * a3[j]
        e += 4
    for e in range(e, end):
        w = theta[in_pos[e]]
        ar = aa[in_src[e]]
        for j in range(b):
            zr[j] += w * ar[j]


def edge_gradients(dr, e, end, in_src, in_pos, aa, g, b):
    """g of edges e..end-1: the sum over samples of dL/dz x source activation.

    Each sum adds its samples in order, so the numbers are those of one edge at a time; but
    a chain of additions waits for the one before (~4 cycles each), so eight sums, then four,
    go at once: their chains overlap."""
    while e + 8 <= end:
        a0, a1, a2, a3 = aa[in_src[e]], aa[in_src[e + 1]], aa[in_src[e + 2]], aa[in_src[e + 3]]
        a4, a5, a6, a7 = (aa[in_src[e + 4]], aa[in_src[e + 5]], aa[in_src[e + 6]],
                          aa[in_src[e + 7]])
        t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = 0.0
        for j in range(b):
            d = dr[j]
            t0 += d * a0[j]
            t1 += d * a1[j]
            t2 += d * a2[j]
            t3 += d * a3[j]
            t4 += d * a4[j]
            t5 += d * a5[j]
            t6 += d * a6[j]
            t7 += d * a7[j]
        g[in_pos[e]], g[in_pos[e + 1]], g[in_pos[e + 2]], g[in_pos[e + 3]] = t0, t1, t2, t3
        g[in_pos[e + 4]], g[in_pos[e + 5]], g[in_pos[e + 6]], g[in_pos[e + 7]] = t4, t5, t6, t7
        e += 8
    while e + 4 <= end:
        a0, a1, a2, a3 = aa[in_src[e]], aa[in_src[e + 1]], aa[in_src[e + 2]], aa[in_src[e + 3]]
        t0 = t1 = t2 = t3 = 0.0
        for j in range(b):
            d = dr[j]
            t0 += d * a0[j]
            t1 += d * a1[j]
            t2 += d * a2[j]
            t3 += d * a3[j]
        g[in_pos[e]], g[in_pos[e + 1]], g[in_pos[e + 2]], g[in_pos[e + 3]] = t0, t1, t2, t3
        e += 4
    for e in range(e, end):
        ar = aa[in_src[e]]
        total = 0.0
        for j in range(b):
            total += dr[j] * ar[j]
        g[in_pos[e]] = total


def penalise(theta, g, n_edges, l1, l2):
    """The L1/L2 penalty on the weights (theta[:n_edges]), its gradient added to g."""
    s1 = 0.0
    s2 = 0.0
    for p in range(n_edges):
        s1 += abs(theta[p])
        s2 += theta[p] * theta[p]
    value = 0.0
    if l1 != 0.0:
        value += l1 * s1
    if l2 != 0.0:
        value += 0.5 * l2 * s2
    for p in range(n_edges):
        if l1 != 0.0:
            g[p] += l1 * _sign(theta[p])
        if l2 != 0.0:
            g[p] += l2 * theta[p]
    return value


def clip(g, trainable, clip_norm, clip_value):
    """Mask frozen entries, clip by value then by global norm; the norm before clipping."""
    total = 0.0
    for p in range(g.size):
        g[p] *= trainable[p]
        total += g[p] * g[p]
    norm = math.sqrt(total)
    if clip_value > 0.0:
        for p in range(g.size):
            if g[p] > clip_value:
                g[p] = clip_value
            elif g[p] < -clip_value:
                g[p] = -clip_value
    if clip_norm > 0.0:
        after = norm
        if clip_value > 0.0:
            total = 0.0
            for p in range(g.size):
                total += g[p] * g[p]
            after = math.sqrt(total)
        if after > clip_norm and math.isfinite(after):
            scale = clip_norm / after
            for p in range(g.size):
                g[p] *= scale
    return norm


def max_norm_rows(theta, trainable, n_in, in_ptr, in_pos, c):
    """Rescale each neuron's incoming weights whose L2 norm exceeds c (trainable ones only)."""
    for r in range(n_in, in_ptr.size - 1):
        total = 0.0
        for e in range(in_ptr[r], in_ptr[r + 1]):
            total += theta[in_pos[e]] * theta[in_pos[e]]
        norm = math.sqrt(total)
        if norm > c:
            scale = c / max(norm, 1e-300)
            for e in range(in_ptr[r], in_ptr[r + 1]):
                if trainable[in_pos[e]] > 0.0:
                    theta[in_pos[e]] *= scale


def all_finite(v):
    for p in range(v.size):
        if not math.isfinite(v[p]):
            return False
    return True


def train_block(x, y, idx, starts, sizes, n_in, in_ptr, in_src, in_pos, bias_pos, act_kind, out_rows,
                trainable, n_edges, theta, state, t0, lrs, hyper, opt_kind, loss_kind, wrt_net,
                l1, l2, clip_norm, clip_value, max_norm, big, snap_stride, step0,
                losses, norms, snaps, grads, za, aa, ga, dl, backup, zv, av, yv, gv):
    """Steps k = 0.. of the batches idx[starts[k]: starts[k] + sizes[k]] at rates lrs[k].

    Returns (steps done, status, snapshots written): status 0 all done; 1 the loss or the
    gradient of step `done` was not finite (nothing updated); 2 its update made a parameter
    non-finite (theta rolled back to before it). losses[k] and norms[k] are written for the
    failing step too. grads[done % 2] holds that step's gradient,
    grads[(done - 1) % 2] the last good one. snaps receives theta after each step whose
    number (step0 + k + 1) is a multiple of snap_stride. big: the training dtype's largest
    number; a loss or a squared gradient norm beyond it counts as infinite (it is, in NumPy's
    float32 steps, where the kernel sums in float64), so both paths stop at the same step.
    """
    n_snaps = 0
    big_norm = math.sqrt(big)
    for k in range(lrs.size):
        lo = starts[k]
        b = sizes[k]
        g = grads[k % 2]
        loss = forward_backward(x, y, idx, lo, b, n_in, in_ptr, in_src, in_pos, bias_pos,
                                act_kind, out_rows, theta, loss_kind, wrt_net, g, za, aa, ga,
                                dl, zv, av, yv, gv)
        if l1 != 0.0 or l2 != 0.0:
            loss += penalise(theta, g, n_edges, l1, l2)
        norm = clip(g, trainable, clip_norm, clip_value)
        if loss > big or loss < -big:
            loss = math.copysign(math.inf, loss)
        if norm > big_norm:
            norm = math.inf
        losses[k] = loss
        norms[k] = norm
        if not (math.isfinite(loss) and math.isfinite(norm)):
            return k, 1, n_snaps
        backup[:] = theta
        opt_update(opt_kind, theta, g, lrs[k], state, t0 + k + 1, hyper)
        if max_norm > 0.0:
            max_norm_rows(theta, trainable, n_in, in_ptr, in_pos, max_norm)
        if not all_finite(theta):
            theta[:] = backup
            return k, 2, n_snaps
        if (step0 + k + 1) % snap_stride == 0 and n_snaps < snaps.shape[0]:
            snaps[n_snaps] = theta
            n_snaps += 1
    return lrs.size, 0, n_snaps
