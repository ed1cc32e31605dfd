import click
from flask.cli import AppGroup

from app.extensions import db
from app.residents.services import rotate_id_number_key

residents_cli = AppGroup("residents", help="Archive maintenance.")


@residents_cli.command("rotate-id-key")
@click.option("--batch", default=5000, show_default=True)
def rotate_id_key(batch: int):
    """Re-encrypt ID numbers under ID_NUMBER_KEY (old keys in ID_NUMBER_OLD_KEYS)."""
    done = 0
    try:
        for rotated in rotate_id_number_key(batch):
            db.session.commit()  # one batch at a time: what is rotated stays rotated if a later batch fails
            done += rotated
    except BaseException:
        db.session.rollback()
        raise
    click.echo(f"rotated {done} archives")


commands = [residents_cli]
