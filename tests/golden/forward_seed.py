def jvp_golden_seed(x, y, dot_x, dot_y):
    # variant for x: float, y: float
    a = -y
    dot_a = -dot_y
    b = np.exp(a)
    dot_b = dot_a * b
    c = 1.0 + b
    dot_c = dot_b
    d = 1.0 / c
    dot_d = -dot_c * d / c
    e = x + d
    dot_e = dot_x + dot_d
    f = x ** 2
    dot_f = dot_x * 2 * x
    g = f + y
    dot_g = dot_f + dot_y
    out = e / g
    dot_out = dot_e / g - dot_g * out / g
    return (out, dot_out)
