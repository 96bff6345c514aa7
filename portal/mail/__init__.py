"""Outbound email (issue 13): one path for every message.

``outbox.queue_email`` validates and stores a message (state Queued) and
enqueues ``jobs.mail.send_email``; the job claims the row, hands it to SMTP
(``smtp.deliver``) and records Sent or Failed. Nothing is sent in a request.
"""
