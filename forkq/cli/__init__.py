"""The `forkq` command line: a thin click layer over one Config (forkq.cli.app), entered
through forkq.cli.early, which runs before click is imported."""


def main():
    from forkq.cli.early import main as run
    run()
