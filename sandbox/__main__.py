"""``python -m sandbox --port 5001 [--host 127.0.0.1]``: serve the sandbox (threaded werkzeug)."""
import argparse
import os

from werkzeug.serving import run_simple

from . import create_app


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Calendly API v2 + OAuth sandbox")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 5001)))
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    config = {}
    if not os.environ.get("SANDBOX_BASE_URL"):
        config["SANDBOX_BASE_URL"] = f"http://localhost:{args.port}"
    app = create_app(config)
    print(f" * Calendly sandbox on http://{args.host}:{args.port} (URIs use {app.config['SANDBOX_BASE_URL']})",
          flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
