# detectron2 SimpleTrainer: the loss is the sum of a dict of losses
import torch


class SimpleTrainer:
    def __init__(self, model, data_loader, cfg):
        self.model = model
        self.data_loader = data_loader
        self.optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
        self._data_loader_iter = iter(data_loader)

    def run_step(self):
        data = next(self._data_loader_iter)
        loss_dict = self.model(data)
        losses = sum(loss_dict.values())
        self.optimizer.zero_grad()
        losses.backward()
        self.optimizer.step()
