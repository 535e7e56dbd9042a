# litgpt-style: `if not is_accumulating` guards the step, plain torch (no Fabric)
import torch


def fit(model, loader, args):
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    for iter_num, (x, y) in enumerate(loader):
        is_accumulating = (iter_num + 1) % args.accum != 0
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y) / args.accum
        loss.backward()
        if not is_accumulating:
            optimizer.step()
            optimizer.zero_grad()
