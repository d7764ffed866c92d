-- Test mode: the recipients external deliveries may reach (a JSON array of
-- subscriber ids and @domains; NULL is off) and the integration that
-- receives the others' deliveries instead (NULL: they are suppressed).
ALTER TABLE environments ADD COLUMN deliver_only_to TEXT;
ALTER TABLE environments ADD COLUMN catch_all_integration TEXT;
