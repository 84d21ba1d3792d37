"""Our update rules against torch.optim itself: same network, weights and batches, same result.

torch is optional (its builds are large): without it this module is skipped.
"""

import numpy as np
import pytest

from skminibatch import MiniBatchRegressor

torch = pytest.importorskip("torch")

SOLVERS = {
    "sgd": lambda groups: torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda groups: torch.optim.Adam(groups, lr=0.01, betas=(0.9, 0.99), eps=1e-8),
    "adamw": lambda groups: torch.optim.AdamW(groups, lr=0.01, betas=(0.9, 0.99), eps=1e-8),
    "rmsprop": lambda groups: torch.optim.RMSprop(groups, lr=0.01, alpha=0.95, eps=1e-8),
    "adagrad": lambda groups: torch.optim.Adagrad(groups, lr=0.05, eps=1e-8),
}


def torch_training(
    coefs, intercepts, X, y, make_optimizer, weight_decay, batch_size, epochs, clip_norm
):
    layers = [torch.nn.Linear(*c.shape, dtype=torch.float64) for c in coefs]
    with torch.no_grad():
        for layer, coef, intercept in zip(layers, coefs, intercepts, strict=True):
            layer.weight.copy_(torch.from_numpy(coef.T))
            layer.bias.copy_(torch.from_numpy(intercept))
    # Weight decay (AdamW's decoupled decay) on the weights only, as ours.
    groups = [
        {"params": [layer.weight for layer in layers], "weight_decay": weight_decay},
        {"params": [layer.bias for layer in layers], "weight_decay": 0.0},
    ]
    optimizer = make_optimizer(groups)
    X, y = torch.from_numpy(X), torch.from_numpy(y[:, None])
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            out = X[start : start + batch_size]
            for layer in layers[:-1]:
                out = torch.tanh(layer(out))
            out = layers[-1](out)
            loss = 0.5 * torch.nn.functional.mse_loss(out, y[start : start + batch_size])
            optimizer.zero_grad()
            loss.backward()
            if clip_norm:
                torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], clip_norm)
            optimizer.step()
    return [layer.weight.detach().numpy().T for layer in layers]


@pytest.mark.parametrize("clip_norm", [None, 0.5])
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_same_weights_as_torch_optim(solver, clip_norm):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    coefs = [rng.normal(scale=0.5, size=(3, 6)), rng.normal(scale=0.5, size=(6, 1))]
    intercepts = [rng.normal(size=6), rng.normal(size=1)]
    hyper = {
        "sgd": dict(learning_rate_init=0.05, momentum=0.9, nesterovs_momentum=True),
        "adam": dict(learning_rate_init=0.01, beta_2=0.99),
        "adamw": dict(learning_rate_init=0.01, beta_2=0.99, weight_decay=0.1),
        "rmsprop": dict(learning_rate_init=0.01, rho=0.95),
        "adagrad": dict(learning_rate_init=0.05),
    }[solver]
    ours = MiniBatchRegressor(
        (6,),
        "tanh",
        solver=solver,
        alpha=0.0,
        batch_size=8,
        shuffle=False,
        max_iter=3,
        tol=None,
        clip_norm=clip_norm,
        **hyper,
    ).fit(X, y, coefs_init=coefs, intercepts_init=intercepts)
    weight_decay = hyper.get("weight_decay", 0.0)
    expected = torch_training(
        coefs, intercepts, X, y, SOLVERS[solver], weight_decay, 8, 3, clip_norm
    )
    for got, want in zip(ours.coefs_, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
