import click
from flask.cli import AppGroup

residents_cli = AppGroup("residents", help="Archive maintenance.")


@residents_cli.command("rotate-id-key")
@click.option("--batch", default=5000, show_default=True)
def rotate_id_key(batch: int):
    """Re-encrypt ID numbers under ID_NUMBER_KEY (old keys in ID_NUMBER_OLD_KEYS)."""
    from app.residents.services import rotate_id_number_key

    click.echo(f"rotated {rotate_id_number_key(batch)} archives")


commands = [residents_cli]
