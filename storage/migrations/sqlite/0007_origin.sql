-- Every document records where it came from, in its own row, written in the same transaction
-- as the document: `{"channel": "upload"}`, or for the mailroom the batch, the station and the
-- pages (1-based, inclusive). The mailroom's separate origin table is folded in and dropped.

ALTER TABLE documents ADD COLUMN origin TEXT NOT NULL DEFAULT '{}';

UPDATE documents SET origin = json_object('channel', channel);

UPDATE documents SET origin = (
    SELECT json_object('channel', 'mailroom', 'batch', m.batch, 'station', m.station,
                       'first_page', m.first_page, 'last_page', m.last_page)
    FROM mailroom_documents m WHERE m.document = documents.id)
WHERE id IN (SELECT document FROM mailroom_documents);

DROP TABLE mailroom_documents;
