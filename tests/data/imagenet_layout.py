import torch
import torch.optim
from torch.optim.lr_scheduler import StepLR


def main_worker(args):
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), args.lr,
                                momentum=args.momentum,
                                weight_decay=args.weight_decay)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    if args.resume:
        checkpoint = torch.load(args.resume)
        optimizer.load_state_dict(checkpoint['optimizer'])
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=args.batch_size)
    for epoch in range(args.start_epoch, args.epochs):
        train(train_loader, model, optimizer, epoch, args)
        scheduler.step()


def train(train_loader, model, optimizer, epoch, args):
    for i, (images, target) in enumerate(train_loader):
        loss = model(images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
