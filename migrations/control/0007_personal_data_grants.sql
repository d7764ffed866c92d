-- An explicit grant to see subscribers' personal data and message contents
-- in an environment, whatever the member's role there.
ALTER TABLE member_grants ADD COLUMN personal_data INTEGER NOT NULL DEFAULT 0;
