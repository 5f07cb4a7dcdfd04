"""Errors that a user can act on: the CLI prints them as one line and exits non-zero."""


class BlazerError(Exception):
    """Base for errors whose message says what is wrong and what to do."""


class ConfigError(BlazerError):
    """A spec, flag or setting is invalid."""


class DatabaseError(BlazerError):
    """The database is unreachable, misconfigured or at the wrong schema."""


class NotFound(BlazerError):
    """A named campaign, dataset or model does not exist."""
