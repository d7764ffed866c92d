-- Privacy per environment: NULL follows the type's default (on in
-- production, off elsewhere).
ALTER TABLE environments ADD COLUMN obfuscate_subscriber_data INTEGER;
ALTER TABLE environments ADD COLUMN hide_message_contents INTEGER;
