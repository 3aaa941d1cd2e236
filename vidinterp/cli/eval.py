"""`vidinterp eval` — placeholder until its owner lands it (replaced in this change set)."""

import typer


def register(app: typer.Typer) -> None:
    pass
