def grad_height(y0, v0, restitution, delta_out=1.0):
    # forward
    v_stack = []
    y_stack = []
    y = y0
    v = v0
    t = 0.0
    energy = 0.0
    while t < 2.0:
        v_stack.append(v)
        v = v - 9.81 * 0.01
        y = y + v * 0.01
        y_stack.append(y)
        if y < 0.0:
            y = -y
            f = -restitution
            v_stack.append(v)
            v = f * v
        j = 0.5 * v
        energy = energy + j * v * 0.01
        t = t + 0.01
    out = y + 0.1 * energy
    # backward
    # out = y + o
    delta_y = 1.0
    # o = 0.1 * energy
    delta_restitution = 0.0
    delta_v = 0.0
    for y in reversed(y_stack):
        j = 0.5 * v
        # j = 0.5 * v
        delta_v = delta_v + 0.001 * j + 0.001 * v * 0.5
        if y < 0.0:
            # v = h
            v = v_stack.pop()
            # h = f * v
            delta_f = delta_v * v
            delta_v = delta_v * f
            # f = -restitution
            delta_restitution = delta_restitution - delta_f
            # e = -y
            delta_y = -delta_y
        # c = v * 0.01
        delta_v = delta_v + delta_y * 0.01
        # v = b
        v = v_stack.pop()
    return (out, (delta_y, delta_v, delta_restitution))
