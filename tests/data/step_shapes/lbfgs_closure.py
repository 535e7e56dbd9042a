# closures: LBFGS (style transfer) and a closure on Adam
import torch


def fit_lbfgs(model, x, y, criterion):
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1)
    for _ in range(20):
        def closure():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            return loss
        optimizer.step(closure)


def fit_adam(model, loader, criterion):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        def closure():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            return loss
        optimizer.step(closure)
