-- Staff accounts gain a scope, as tokens did in 0015 (see `review::session`): the account
-- sees and acts only on the dossiers of these campaigns. Accounts created before stay as
-- they were: every campaign.
--
-- `campaigns`: a JSON array of campaign ids; NULL for every campaign.
ALTER TABLE staff_users ADD COLUMN campaigns TEXT;
