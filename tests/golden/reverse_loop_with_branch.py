def grad_loop_with_branch(x, delta_out=1.0):
    # generic variant, for arrays and numbers of any shape
    # forward
    x_stack = []
    for i in range(200):
        x_stack.append(x)
        if x > 0.0:
            a = x * 0.99
            b = math.sin(x)
            c = b * 0.1
            x = a + c
            del a  # not read again
        else:
            d = x * 1.01
            x = d + 0.05
            del d  # not read again
    out = x * x
    # backward
    # out = x * x
    delta_x = 2.0 * (delta_out * x)
    for x in reversed(x_stack):
        if x > 0.0:
            # x = a + c
            delta_c = np.sum(delta_x)
            # c = b * 0.1
            delta_b = delta_c * 0.1
            # a = x * 0.99; b = math.sin(x)
            delta_x = delta_b * math.cos(x) + delta_x * 0.99
        else:
            # d = x * 1.01
            delta_x = delta_x * 1.01
    return (out, (delta_x,))
