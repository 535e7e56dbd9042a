# accelerate: accelerator.backward inside accelerator.accumulate
import torch
from accelerate import Accelerator


def train(model, loader, args):
    accelerator = Accelerator(gradient_accumulation_steps=args.accum)
    optimizer = torch.optim.AdamW(params=model.parameters(), lr=args.lr)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for batch in loader:
        with accelerator.accumulate(model):
            loss = model(**batch).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
