"""The logic of each ``pneumo`` subcommand, one module per command; the
dispatcher :mod:`pneumo.cli` only parses arguments and calls them."""
