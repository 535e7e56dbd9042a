# dino/mae: lr and wd written per iteration from precomputed arrays, fp16 scaler optional
import torch


def train_one_epoch(student, loader, dino_loss, lr_schedule, wd_schedule, epoch, fp16_scaler, args):
    params_groups = [{"params": student.parameters()}]
    optimizer = torch.optim.AdamW(params_groups)
    for it, (images, _) in enumerate(loader):
        it = len(loader) * epoch + it
        for i, param_group in enumerate(optimizer.param_groups):
            param_group["lr"] = lr_schedule[it]
            if i == 0:
                param_group["weight_decay"] = wd_schedule[it]
        loss = dino_loss(student(images))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
