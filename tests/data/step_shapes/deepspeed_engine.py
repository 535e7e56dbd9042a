# DeepSpeed: the engine runs backward and step
import torch
import deepspeed


def train(model, loader, args):
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    model_engine, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, args=args)
    for batch in loader:
        loss = model_engine(batch)
        model_engine.backward(loss)
        model_engine.step()
