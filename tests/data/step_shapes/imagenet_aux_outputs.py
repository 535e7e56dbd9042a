# pytorch/examples imagenet: output and loss read after the step (accuracy, meters)
import torch


def train(train_loader, model, criterion, optimizer, epoch, losses, top1, accuracy):
    model.train()
    for i, (images, target) in enumerate(train_loader):
        output = model(images)
        loss = criterion(output, target)
        acc1, acc5 = accuracy(output, target, topk=(1, 5))
        losses.update(loss.item(), images.size(0))
        top1.update(acc1[0], images.size(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main(model, criterion, train_loader, args, losses, top1, accuracy):
    optimizer = torch.optim.SGD(model.parameters(), args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    for epoch in range(args.epochs):
        train(train_loader, model, criterion, optimizer, epoch, losses, top1, accuracy)
