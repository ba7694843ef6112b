"""What every command line of both packages shares: the subcommand parser (`cli`) and the
refusal to overwrite earlier outputs (`outputs`). Imports nothing above `errors`."""

from dense_ood_ros.console.outputs import OutputExistsError

__all__ = ["OutputExistsError"]
