-- Campaign exports read a campaign's dossiers a page at a time in reference order
-- (`campaign = $1 AND reference > $last ORDER BY reference LIMIT n`): with this index each
-- page is one range scan, whatever its position. The index on `campaign` alone is a prefix
-- of it, so it goes.
CREATE INDEX dossiers_campaign_reference ON dossiers(campaign, reference);
DROP INDEX dossiers_campaign;
