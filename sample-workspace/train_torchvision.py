"""A real PyTorch training loop for Chase: a torchvision model trained on FakeData (synthetic images,
nothing downloaded), a tqdm bar per epoch, and with --reporter the chase_reporter call per batch.

The defaults are small enough for a CPU in seconds (the tests run it under `chase-agent run`); on a
GPU, e.g. `--model resnet50 --image-size 224 --batch 64 --steps 200` is the workload of Chase's
reference measurements.

    python3 train_torchvision.py --epochs 2 --steps 10 [--reporter] [--exit-code N] [--fail-at-step K]
"""

import argparse
import sys

import torch
import torchvision
from torchvision import transforms
from tqdm import tqdm


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="squeezenet1_1", help="a torchvision.models constructor (default squeezenet1_1: small)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="batches per epoch")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--reporter", action="store_true", help="report each batch through chase_reporter")
    p.add_argument("--exit-code", type=int, default=0, help="exit with this code at the end (tests)")
    p.add_argument("--fail-at-step", type=int, default=0, help="raise an error at this global step (tests)")
    args = p.parse_args()

    reporter = None
    if args.reporter:
        import chase_reporter as reporter

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)  # a shared test machine: one core is enough for the small default
    model = getattr(torchvision.models, args.model)(num_classes=10).to(device)
    data = torchvision.datasets.FakeData(
        size=args.steps * args.batch, image_size=(3, args.image_size, args.image_size), num_classes=10, transform=transforms.ToTensor()
    )
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    print("training %s on %s: %d epochs x %d steps, batch %d" % (args.model, device, args.epochs, args.steps, args.batch), flush=True)

    step = 0
    for epoch in range(args.epochs):
        model.train()
        bar = tqdm(loader, desc="train %d/%d" % (epoch + 1, args.epochs), unit="it")
        for images, labels in bar:
            images, labels = images.to(device), labels.to(device)
            opt.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            opt.step()
            step += 1
            if reporter:
                reporter.step(samples=images.shape[0])
            bar.set_postfix(loss="%.3f" % loss.item())
            if step == args.fail_at_step:
                raise RuntimeError("failing at step %d as asked (--fail-at-step)" % step)
    print("done: %d steps" % step, flush=True)
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
