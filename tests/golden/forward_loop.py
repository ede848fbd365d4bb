def jvp_golden_loop(x, n, dot_x):
    # variant for x: float, n: any array or number
    s = 0.0
    dot_s = 0.0
    stop = False
    for i in range(n):
        a = x * i
        dot_a = dot_x * i
        b = math.sin(a)
        dot_b = dot_a * math.cos(a)
        c = s + b
        dot_c = dot_s + dot_b
        s = c
        dot_s = dot_c
        if s > 1.5:
            stop = True
        if stop:
            break
    out = s * x
    dot_out = dot_s * x + dot_x * s
    return (out, dot_out)
