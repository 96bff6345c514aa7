"""Extension objects, created unbound here and bound in the app factory."""
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from authlib.integrations.flask_client import OAuth
from peewee import DatabaseProxy

db = DatabaseProxy()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
oauth = OAuth()
