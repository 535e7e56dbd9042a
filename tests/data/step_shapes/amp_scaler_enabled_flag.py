# yolov5-style: GradScaler(enabled=amp), accumulate by `ni - last_opt_step`
import torch


def train(model, loader, compute_loss, amp, accumulate):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True)
    scaler = torch.cuda.amp.GradScaler(enabled=amp)
    last_opt_step = -1
    for i, (imgs, targets) in enumerate(loader):
        ni = i
        with torch.cuda.amp.autocast(amp):
            pred = model(imgs)
            loss, loss_items = compute_loss(pred, targets)
        scaler.scale(loss).backward()
        if ni - last_opt_step >= accumulate:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
            last_opt_step = ni
