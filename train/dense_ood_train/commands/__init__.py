"""The `dense-ood-train` subcommands, one module each (see dense_ood_train.cli)."""
