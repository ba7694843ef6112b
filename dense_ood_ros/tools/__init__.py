"""The `dense-ood` command line and its subcommands (bench, demo)."""
