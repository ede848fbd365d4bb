def grad_branch(x, y, delta_out=1.0):
    # generic variant, for arrays and numbers of any shape
    # forward
    if x > 0.0:
        z = x * y
    else:
        z = x + y
    out = z * z
    # backward
    # out = z * z
    delta_z = 2.0 * (delta_out * z)
    del z  # not read again
    if x > 0.0:
        # z = x * y
        delta_x = unbroadcast(delta_z * y, x)
        delta_y = unbroadcast(delta_z * x, y)
        del delta_z  # not read again
    else:
        # z = x + y
        delta_x = unbroadcast(delta_z, x)
        delta_y = unbroadcast(delta_z, y)
        del delta_z  # not read again
    return (out, (delta_x, delta_y))
