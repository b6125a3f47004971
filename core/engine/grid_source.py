"""The loss grid's kernel, as plain Python for Numba: the mean loss at every point
theta(a, b) = center + a d1 + b d2 of a plane, fused per point (nothing per point is kept but
one block of samples' values per neuron), in float32.

Not imported: core.engine.compiled copies this text into its generated module after the
dispatchers it calls (act_rows32, loss_terms32, loss_sample) and compiles it there with
GRID_OPTIONS (no GIL, NumPy's error model, fused multiply-adds).

What is fixed on the plane was computed once by core.engine.compiled_grid: the rows that do
not move hold their values in acts/nets, and each moving row r starts from
z = k0[r] + a k1[r] + b k2[r] (its bias and its edges from fixed rows); only its edges from
moving rows are summed per point. Samples come in blocks (arrays (blocks, rows, block size))
so that a block's rows stay in cache for all the points; every loop over a block runs from 0
to its size (a multiple of 8), which LLVM vectorises.
"""
import numpy as np


def grid_points(alphas, betas, out, moving, kind, affine, k0, k1, k2, e_ptr, e_src, wc, w1,
                w2, nets, acts, out_rows, y, n_valid, loss_kind, by_terms, n_samples, terms,
                zv, av, yv, gv):
    """out[p] += the mean loss at theta(alphas[p], betas[p]), for every p."""
    w = np.empty(e_src.size, np.float32)
    for q in range(acts.shape[0]):
        for p in range(alphas.size):
            a = alphas[p]
            b = betas[p]
            for e in range(e_src.size):
                w[e] = np.float32(wc[e] + a * w1[e] + b * w2[e])
            a32 = np.float32(a)
            b32 = np.float32(b)
            for m in range(moving.size):
                z = nets[q, moving[m]]
                c0 = k0[q, m]
                if affine[m]:
                    c1 = k1[q, m]
                    c2 = k2[q, m]
                    for j in range(z.size):
                        z[j] = c0[j] + a32 * c1[j] + b32 * c2[j]
                else:
                    for j in range(z.size):
                        z[j] = c0[j]
                add_edges(z, acts[q], w, e_src, e_ptr[m], e_ptr[m + 1])
                act_rows32(kind[m], z, acts[q, moving[m]])
            out[p] += block_loss(nets[q], acts[q], out_rows, y[q], n_valid[q], loss_kind,
                                 by_terms, n_samples, terms, zv, av, yv, gv)


def add_edges(z, acts, w, e_src, lo, hi):
    """z += w[e] acts[e_src[e]] over the edges [lo, hi), four at a time: z is read and
    written once per four edges instead of once per edge."""
    e = lo
    while e + 4 <= hi:
        s0 = acts[e_src[e]]
        s1 = acts[e_src[e + 1]]
        s2 = acts[e_src[e + 2]]
        s3 = acts[e_src[e + 3]]
        w0 = w[e]
        w1 = w[e + 1]
        w2 = w[e + 2]
        w3 = w[e + 3]
        for j in range(z.size):
            z[j] += (w0 * s0[j] + w1 * s1[j]) + (w2 * s2[j] + w3 * s3[j])
        e += 4
    while e < hi:
        s0 = acts[e_src[e]]
        w0 = w[e]
        for j in range(z.size):
            z[j] += w0 * s0[j]
        e += 1


def block_loss(nets, acts, out_rows, y, n, loss_kind, by_terms, n_samples, terms, zv, av, yv,
               gv):
    """The first n samples' share of the mean loss, from the output rows of one block."""
    total = 0.0
    if by_terms:
        terms[:] = 0.0
        for o in range(out_rows.size):
            loss_terms32(loss_kind, nets[out_rows[o]], acts[out_rows[o]], y[o], terms)
        for j in range(n):
            total += terms[j]
        return total / (n_samples * out_rows.size)
    for j in range(n):
        for o in range(out_rows.size):
            zv[o] = nets[out_rows[o], j]
            av[o] = acts[out_rows[o], j]
            yv[o] = y[o, j]
        total += loss_sample(loss_kind, zv, av, yv, gv, n_samples)
    return total
