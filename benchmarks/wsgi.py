"""What the bench's gunicorn serves: the portal (``wsgi.app``) plus one empty route.

``POST /_bench/empty`` reads the body and answers an empty 200 through the
same Flask app, gunicorn workers and threads: the reference of figure 1.
"""
from flask import request

from portal.extensions import csrf
from wsgi import app


@app.route("/_bench/empty", methods=["GET", "POST"])
@csrf.exempt
def bench_empty():
    request.get_data()
    return "", 200
