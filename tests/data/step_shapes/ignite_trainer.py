# ignite: the trainer steps the optimizer
import torch
from ignite.engine import create_supervised_trainer


def run(model, loader, criterion, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    trainer = create_supervised_trainer(model, optimizer, criterion)
    trainer.run(loader, max_epochs=epochs)
