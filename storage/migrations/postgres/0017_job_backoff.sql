-- Retries wait: a job given back after a failure is due again only at `run_after` (NULL: due
-- since it was created). Claims skip jobs not yet due and take the others by due time, then
-- id, so a job that keeps failing never stands in front of the rest.

ALTER TABLE jobs ADD COLUMN run_after timestamptz;
