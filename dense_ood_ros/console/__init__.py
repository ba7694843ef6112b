"""What every command line of both packages shares: the subcommand parser and its one error
path (`cli`), the refusal to overwrite earlier outputs (`outputs`) and the JSON writer
(`json_output`). Imports nothing above `errors`."""

from dense_ood_ros.console.cli import CommandError
from dense_ood_ros.console.outputs import OutputExistsError

__all__ = ["CommandError", "OutputExistsError"]
