"""Typer command groups: each parses flags, calls one library function, prints the result."""
