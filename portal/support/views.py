from flask import render_template

from portal.support import bp
from portal.tenancy import subaccount_required


@bp.route("/")
@subaccount_required
def index():
    return render_template("main/dashboard.html")
