-- Who issued a member's personal access token (a member id, or `admin` for
-- the deployment's admin token; NULL where neither this column nor the audit
-- log says):
-- removing a member revokes the tokens they issued to others, since the
-- issuer may keep a copy.
ALTER TABLE member_tokens ADD COLUMN issued_by TEXT;

-- Tokens issued before: their issuer, as the audit log recorded the issue.
UPDATE member_tokens SET issued_by = (
  SELECT actor FROM audit_log
  WHERE action = 'member.token.issue' AND json_extract(summary, '$.token') = member_tokens.id
  LIMIT 1
) WHERE issued_by IS NULL;
UPDATE member_tokens SET issued_by = 'admin' WHERE issued_by IS NULL AND EXISTS (
  SELECT 1 FROM audit_log
  WHERE action = 'member.update' AND json_extract(summary, '$.replacement_token') = member_tokens.id
);
