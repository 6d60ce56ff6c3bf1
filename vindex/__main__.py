from vindex.cli import cli

cli(prog_name="vindex")
