"""A Gaussian-process marginal likelihood, fitted by its gradient: docs/scipy.md runs this file."""

import numpy as np
import scipy.linalg as sl
from scipy.stats import multivariate_normal

import sct

X = np.linspace(-2.0, 2.0, 12)
Y = np.sin(1.5 * X) + 0.1 * np.random.default_rng(0).normal(size=12)


def kernel(x, log_scale, log_length):
    d = (x[:, None] - x[None, :]) / np.exp(log_length)
    return np.exp(2.0 * log_scale) * np.exp(-0.5 * d**2)


def log_marginal(log_scale, log_length, log_noise):
    """log p(y | x, theta) through a Cholesky factor: -y' K^-1 y / 2 - log|K| / 2 - n log(2 pi) / 2."""
    k = kernel(X, log_scale, log_length) + np.exp(2.0 * log_noise) * np.eye(X.size)
    chol = sl.cholesky(k, lower=True)
    alpha = sl.solve_triangular(chol, Y, lower=True)
    return -0.5 * alpha @ alpha - np.sum(np.log(np.diag(chol))) - 0.5 * X.size * np.log(2 * np.pi)


def log_marginal_stats(log_scale, log_length, log_noise):
    """The same likelihood through scipy.stats.multivariate_normal."""
    k = kernel(X, log_scale, log_length) + np.exp(2.0 * log_noise) * np.eye(X.size)
    return multivariate_normal.logpdf(Y, np.zeros(X.size), k)


if __name__ == "__main__":
    theta = np.array([0.0, 0.0, -1.0])
    grad = sct.grad(log_marginal, wrt=(0, 1, 2))
    for _ in range(60):  # gradient ascent on the log marginal likelihood
        theta = theta + 0.05 * np.array(grad(*theta))
    print(f"log marginal likelihood {log_marginal(*theta):.4f} at theta = {np.round(theta, 3)}")
    same = np.allclose(grad(*theta), sct.grad(log_marginal_stats, wrt=(0, 1, 2))(*theta))
    print("the Cholesky form and multivariate_normal.logpdf agree:", same)
