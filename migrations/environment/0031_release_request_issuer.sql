-- Who stands behind the credential a release request was made with: the
-- requester, or whoever issued the requester's token (who may keep a copy).
-- That member is the requester's own pair of eyes and reviews none of it.
-- NULL for requests made before: the requester.
ALTER TABLE release_requests ADD COLUMN requested_via TEXT;
