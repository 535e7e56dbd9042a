# kuangliu/pytorch-cifar: running loss and accuracy after the step, CosineAnnealingLR per epoch
import torch
import torch.optim as optim


def train(net, trainloader, criterion, optimizer, epoch):
    net.train()
    train_loss = 0
    correct = 0
    total = 0
    for batch_idx, (inputs, targets) in enumerate(trainloader):
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        train_loss += loss.item()
        _, predicted = outputs.max(1)
        total += targets.size(0)
        correct += predicted.eq(targets).sum().item()


def main(net, trainloader, criterion, args):
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)
    for epoch in range(200):
        train(net, trainloader, criterion, optimizer, epoch)
        scheduler.step()
