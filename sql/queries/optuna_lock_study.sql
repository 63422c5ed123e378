-- The studies row, locked as Optuna locks it before it numbers a new trial (its own trial creation,
-- e.g. re-queueing a stale trial, takes this lock too). A statement of its own: under READ
-- COMMITTED the next statement's snapshot is taken after the lock is granted, so it counts the
-- trial the previous holder inserted; counted in the same statement, a trial inserted while this
-- one waited would be missed and two trials would share a number.
SELECT study_id FROM studies WHERE study_id = %(study_id)s FOR UPDATE;
