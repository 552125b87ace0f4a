-- Tokens gain a scope, an expiry, a revocation and the time they were last used (see
-- `ingest::auth`). Tokens created before stay as they were: every campaign, no expiry.
--
-- `campaigns`: a JSON array of campaign ids the token may reach (text, as on SQLite, so the
-- statements are shared); NULL for every campaign.
-- `last_used_at` is written at most once a minute a token, so reads stay cheap.
ALTER TABLE tokens ADD COLUMN campaigns text;
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE tokens ADD COLUMN revoked_at timestamptz;
ALTER TABLE tokens ADD COLUMN last_used_at timestamptz;
CREATE INDEX tokens_name ON tokens(name);
