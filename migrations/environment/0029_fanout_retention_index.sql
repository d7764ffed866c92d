-- The every-minute sweep deletes finished fan-outs past the log retention, oldest first: it reads
-- them by completion time instead of scanning the table.
CREATE INDEX fanouts_by_completion ON fanouts (completed_at);
