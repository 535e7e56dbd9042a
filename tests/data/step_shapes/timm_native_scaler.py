# timm / MAE: NativeScaler hides backward and step
import torch
from timm.utils import NativeScaler


def train_one_epoch(model, loader, criterion, args):
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    loss_scaler = NativeScaler()
    for samples, targets in loader:
        with torch.cuda.amp.autocast():
            loss = criterion(model(samples), targets)
        optimizer.zero_grad()
        loss_scaler(loss, optimizer, clip_grad=args.clip_grad, parameters=model.parameters())
