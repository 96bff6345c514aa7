"""A local SMTP server for `make run` and the tests: every message it receives is kept as an .eml file.

``python -m mailcatcher --port 1025 --dir instance/mail`` serves it;
``mailcatcher.mailbox.Mailbox(dir)`` reads what arrived. It never relays
anything onward. Like sandbox/, it shares no code with portal/.
"""
