"""The base model every table derives from."""
from peewee import Model

from portal.extensions import db


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False
