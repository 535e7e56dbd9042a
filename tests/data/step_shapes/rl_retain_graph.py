# actor-critic: two losses, the first backward keeps the graph
import torch


def update(actor, critic, states, returns, args):
    optimizer = torch.optim.Adam(list(actor.parameters()) + list(critic.parameters()), lr=args.lr)
    for _ in range(args.epochs):
        values = critic(states)
        advantages = returns - values
        actor_loss = -(actor(states) * advantages.detach()).mean()
        critic_loss = advantages.pow(2).mean()
        optimizer.zero_grad()
        actor_loss.backward(retain_graph=True)
        critic_loss.backward()
        optimizer.step()
