# cleanrl PPO: lr annealing by param_groups write, nested epoch/minibatch loops, clipping
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


def train(agent, args, b_obs, b_returns, num_updates):
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    for update in range(1, num_updates + 1):
        frac = 1.0 - (update - 1.0) / num_updates
        lrnow = frac * args.learning_rate
        optimizer.param_groups[0]["lr"] = lrnow
        b_inds = np.arange(args.batch_size)
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start:start + args.minibatch_size]
                newvalue = agent.get_value(b_obs[mb_inds])
                v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()
                loss = v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
