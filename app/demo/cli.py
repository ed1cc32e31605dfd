"""``flask seed-demo``: fill an empty database with the demo district (环翠区, docs/domain.md §7)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.demo.seed import database_is_empty, run_seed, summary_lines


@click.command("seed-demo")
@click.option(
    "--scale",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 10, min_open=True),
    help="Fraction of the real district to build (1 = 478,600 residents).",
)
@click.option(
    "--seed",
    "seed",
    default=2024,
    show_default=True,
    type=int,
    help="Random seed: the same seed on the same day gives the same district.",
)
@click.option(
    "--if-empty", is_flag=True, help="Succeed without doing anything when the database already holds institutions."
)
@with_appcontext
def seed_demo(scale: float, seed: int, if_empty: bool) -> None:
    """Build the demo district: organisation tree, staff and teams, households,
    residents with encrypted ID numbers, and hypertension / T2DM patients."""
    empty, counts = database_is_empty()
    if not empty:
        if if_empty and counts["institutions"]:
            click.echo(
                f"seed-demo: the database already holds {counts['institutions']} institutions; "
                "nothing to do (--if-empty)."
            )
            return
        held = ", ".join(f"{n} {table}" for table, n in counts.items() if n)
        raise click.ClickException(
            f"the database already holds data ({held}); seed-demo only fills an empty database. "
            "Use --if-empty to skip quietly, or start from a fresh database."
        )
    click.echo(f"seed-demo: building the demo district at scale {scale:g} with seed {seed} …")
    ctx = run_seed(scale, seed, echo=click.echo, progress=sys.stderr.isatty())
    for line in summary_lines(ctx):
        click.echo(line)


commands = [seed_demo]
