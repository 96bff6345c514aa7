"""Migration 6: an appointment Calendly marked a no-show before the status followed the mark (issue 14)
shows No-show as its status too; cancelled and rescheduled ones keep theirs."""


def up(migrator, database):
    database.execute_sql("UPDATE appointment SET status = 'no_show' "
                         "WHERE no_show_at IS NOT NULL AND status = 'booked'")
