"""RQ entry points. Thin: they take ids, push the app context, call ``portal.sync``."""
