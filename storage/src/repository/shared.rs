//! The methods of [`Repository`](super::Repository) that read the same on every backend:
//! one plain statement, the rows turned into records by the shared columns. Reads go through
//! the backend's `read_one` and `read_all`, which SQLite runs on its reader connections. Each
//! backend's `impl Repository` expands them, so the SQL and the mapping are written once;
//! what differs (transactions, locks, job claims) stays in the backend's own file.

/// `impl Repository for TYPE` (a type with a `pool` field) with the methods shared by every
/// backend, followed by the backend's own. Paths (`sql`, `RecordRow`, `Columns`, `Statement`,
/// `params`, the records) resolve where it is expanded. The whole impl is generated so that `async_trait` sees every method.
macro_rules! repository_impl {
    ($backend:ty; $($own:tt)*) => {
        #[async_trait::async_trait]
        impl Repository for $backend {
            $($own)*

        async fn ping(&self) -> Result<(), RepoError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        async fn put_campaign(&self, campaign: &CampaignRecord) -> Result<(), RepoError> {
            sqlx::query(sql::UPSERT_CAMPAIGN)
                .bind(&campaign.id)
                .bind(&campaign.source)
                .bind(campaign.loaded_at)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn campaign(&self, id: &str) -> Result<Option<CampaignRecord>, RepoError> {
            let select = Statement::new(sql::SELECT_CAMPAIGN, params![id]);
            self.read_one(select, |row| row.campaign()).await
        }

        async fn campaigns(&self) -> Result<Vec<CampaignRecord>, RepoError> {
            let select = Statement::new(sql::SELECT_CAMPAIGNS, vec![]);
            self.read_all(select, |row| row.campaign()).await
        }

        async fn insert_token(&self, hash: &str, token: &TokenRecord) -> Result<(), RepoError> {
            sqlx::query(sql::INSERT_TOKEN)
                .bind(hash)
                .bind(&token.role)
                .bind(&token.name)
                .bind(Utc::now())
                .bind(token.campaigns.as_ref().map(|c| serde_json::Value::from(c.clone()).to_string()))
                .bind(token.expires_at)
                .bind(token.revoked_at)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, RepoError> {
            let select = Statement::new(sql::SELECT_TOKEN, params![hash]);
            self.read_one(select, |row| {
                let campaigns: Option<String> = row.field("campaigns")?;
                Ok(TokenRecord {
                    role: row.field("role")?,
                    name: row.field("name")?,
                    campaigns: campaigns
                        .map(|c| serde_json::from_str(&c))
                        .transpose()
                        .map_err(|e| RepoError::Corrupt(format!("token campaigns: {e}")))?,
                    expires_at: row.field("expires_at")?,
                    revoked_at: row.field("revoked_at")?,
                    last_used_at: row.field("last_used_at")?,
                })
            })
            .await
        }

        async fn touch_token(
            &self,
            hash: &str,
            now: chrono::DateTime<Utc>,
            since: chrono::DateTime<Utc>,
        ) -> Result<(), RepoError> {
            sqlx::query(sql::TOUCH_TOKEN)
                .bind(now)
                .bind(hash)
                .bind(since)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn revoke_tokens(&self, name: &str, at: chrono::DateTime<Utc>) -> Result<u64, RepoError> {
            let done = sqlx::query(sql::REVOKE_TOKENS)
                .bind(at)
                .bind(name)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        }

        async fn dossier(&self, reference: &str) -> Result<Option<DossierRecord>, RepoError> {
            let select = Statement::new(sql::SELECT_DOSSIER, params![reference]);
            self.read_one(select, |row| row.dossier()).await
        }

        async fn document(&self, id: &str) -> Result<Option<DocumentRecord>, RepoError> {
            let select = Statement::new(sql::SELECT_DOCUMENT, params![id]);
            self.read_one(select, |row| row.document()).await
        }

        async fn events_after(
            &self,
            after: i64,
            limit: u32,
        ) -> Result<Vec<EventRecord>, RepoError> {
            let rows = sqlx::query(sql::EVENTS_AFTER)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(RecordRow::event).collect()
        }

        async fn events_after_in(
            &self,
            after: i64,
            limit: u32,
            campaigns: &[String],
        ) -> Result<Vec<EventRecord>, RepoError> {
            let statement = sql::events_after_in(campaigns.len());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement))
                .bind(after)
                .bind(i64::from(limit));
            if campaigns.is_empty() {
                // No campaign: nothing matches (a campaign id is never empty).
                query = query.bind("");
            }
            for campaign in campaigns {
                query = query.bind(campaign.as_str());
            }
            let rows = query.fetch_all(&self.pool).await?;
            rows.iter().map(RecordRow::event).collect()
        }

        async fn referenced_content(&self) -> Result<Vec<String>, RepoError> {
            Ok(sqlx::query_scalar(sql::REFERENCED_CONTENT)
                .fetch_all(&self.pool)
                .await?)
        }

        async fn complete_job(&self, id: i64, owner: &str) -> Result<bool, RepoError> {
            self.finish_job(id, owner, JobState::Done, None, Duration::ZERO)
                .await
        }

        async fn fail_job(
            &self,
            id: i64,
            owner: &str,
            error: &str,
            retry_in: Option<Duration>,
        ) -> Result<bool, RepoError> {
            let state = if retry_in.is_some() {
                JobState::Queued
            } else {
                JobState::Failed
            };
            self.finish_job(id, owner, state, Some(error), retry_in.unwrap_or_default())
                .await
        }

        async fn job(&self, id: i64) -> Result<Option<Job>, RepoError> {
            let select = Statement::new(sql::SELECT_JOB, params![id]);
            self.read_one(select, |row| row.job()).await
        }

        async fn outbox_cursor(&self, name: &str) -> Result<i64, RepoError> {
            let last: Option<i64> = sqlx::query_scalar(sql::SELECT_OUTBOX_CURSOR)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            Ok(last.unwrap_or(0))
        }
        }
    };
}
