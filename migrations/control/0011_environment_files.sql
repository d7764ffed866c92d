-- Each environment's own R2 bucket of files (`FILES_<NAME>`). Rows written
-- before this column existed use `FILES_<NAME>` too.
ALTER TABLE environments ADD COLUMN files_binding TEXT;
