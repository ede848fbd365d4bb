def grad_rk4(theta0, c, delta_out=1.0):
    # forward
    tape = []
    th = theta0
    om = 0.0
    for _ in range(50):
        k1t = om
        k1o = -math.sin(th) - c * om
        e = 0.5 * 0.05
        k2t = om + e * k1o
        g = 0.5 * 0.05
        j = th + g * k1t
        k2o = -math.sin(j) - c * k2t
        n = 0.5 * 0.05
        k3t = om + n * k2o
        p = 0.5 * 0.05
        r = th + p * k2t
        k3o = -math.sin(r) - c * k3t
        k4t = om + 0.05 * k3o
        x = th + 0.05 * k3t
        ab = 0.05 / 6.0
        tape.append((th, om, k2t, j, k3t, r, k4t, x))
        th = th + ab * (k1t + 2.0 * k2t + 2.0 * k3t + k4t)
        aj = 0.05 / 6.0
        om = om + aj * (k1o + 2.0 * k2o + 2.0 * k3o + (-math.sin(x) - c * k4t))
    out = th * th + om * om
    # backward
    # at = om * om
    delta_om = 2.0 * om
    # ar = th * th
    delta_th = 2.0 * th
    delta_c = 0.0
    for _ in reversed(range(50)):
        th, om, k2t, j, k3t, r, k4t, x = tape.pop()
        # ap = aj * ao
        delta_ao = delta_om * aj
        # ah = ab * ag
        delta_ag = delta_th * ab
        # k4o = z - aa
        delta_aa = -delta_ao
        # aa = c * k4t; ag = af + k4t
        delta_k4t = delta_ag + delta_aa * c
        # y = math.sin(x)
        delta_x = -delta_ao * math.cos(x)
        # v = 0.05 * k3o; am = 2.0 * k3o
        delta_k3o = delta_ao * 2.0 + delta_k4t * 0.05
        # k3o = t - u
        delta_u = -delta_k3o
        # u = c * k3t; w = 0.05 * k3t; ae = 2.0 * k3t
        delta_k3t = delta_ag * 2.0 + delta_x * 0.05 + delta_u * c
        # s = math.sin(r)
        delta_r = -delta_k3o * math.cos(r)
        # o = n * k2o; ak = 2.0 * k2o
        delta_k2o = delta_ao * 2.0 + delta_k3t * n
        # k2o = l - m
        delta_m = -delta_k2o
        # m = c * k2t; q = p * k2t; ac = 2.0 * k2t
        delta_k2t = delta_ag * 2.0 + delta_r * p + delta_m * c
        # k = math.sin(j)
        delta_j = -delta_k2o * math.cos(j)
        # f = e * k1o; al = k1o + ak
        delta_k1o = delta_ao + delta_k2t * e
        # k1o = b - d
        delta_d = -delta_k1o
        # d = c * om; k2t = om + f; k3t = om + o; k4t = om + v
        delta_c = delta_c + delta_aa * k4t + delta_u * k3t + delta_m * k2t + delta_d * om
        # b = -a; a = math.sin(th); j = th + i; r = th + q; x = th + w
        delta_th = delta_th + delta_x + delta_r + delta_j - delta_k1o * math.cos(th)
        # k1t = om
        delta_om = delta_om + delta_k4t + delta_k3t + delta_k2t + delta_d * c + (delta_ag + delta_j * g)
    return (out, (delta_th, delta_c))
