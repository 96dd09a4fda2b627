-- With the Redis queue, a job row is the outbox: it is written in the transaction of the work it
-- belongs to, and handed to Redis only after that transaction commits. dispatched_at says it was
-- handed over; rows without it are picked up by whichever process looks next.
ALTER TABLE jobs ADD COLUMN dispatched_at timestamptz;
--> statement-breakpoint
CREATE INDEX jobs_undispatched_idx ON jobs (id) WHERE status = 'queued' AND dispatched_at IS NULL;
