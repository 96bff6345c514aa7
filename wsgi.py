"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""
import gc

from portal import create_app

app = create_app()
# Everything loaded so far (modules, templates, the app) lives as long as the process: kept out of the
# collector's full passes, which otherwise walk it all and cost a page like the week view tens of ms.
gc.freeze()
