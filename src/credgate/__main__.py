"""The ``credgate`` command, also run as ``python -m credgate``.

Nothing is imported here until the command runs. Each server worker is a spawned process
that imports the module its command started from again, so whatever this module imports,
every worker holds in memory: the CLI and all its commands, none of which a worker uses.
"""


def main() -> None:
    from credgate.cli.main import main as run_command

    run_command()


if __name__ == "__main__":
    main()
