"""``python -m mailcatcher --port 1025 --dir instance/mail``: run the catcher until SIGTERM or Ctrl-C."""
import argparse
import signal
import threading

from mailcatcher.server import start


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local SMTP server that keeps every message as an .eml file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", required=True, help="directory the .eml files are written to")
    parser.add_argument("--refuse-recipients", default="", metavar="SUFFIX",
                        help="answer 550 to recipients ending with SUFFIX (to try permanent failures)")
    parser.add_argument("--max-bytes", type=int, default=None, help="refuse bigger messages with 552")
    args = parser.parse_args(argv)
    controller = start(args.dir, args.host, args.port, args.refuse_recipients, args.max_bytes)
    print(f"Mail catcher listening on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
