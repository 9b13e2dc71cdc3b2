"""Implementations of the ``ris-fusion`` subcommands: plain functions returning exit codes."""
