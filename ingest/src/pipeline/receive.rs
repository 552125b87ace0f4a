//! Receive: a byte stream into staging, hashed and counted on the way, stopped at the limit.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use storage::StagedFile;

use crate::app::App;
use crate::error::Error;
use crate::metrics::IntakeStage;

/// Streams `body` into a staged file of at most `limit` bytes; `expected` is the length the
/// body announced, if any. On the first byte beyond the limit it stops reading and answers
/// [`Error::TooLarge`]; the partial file is removed.
pub async fn receive<S, E>(
    app: &App,
    body: S,
    limit: u64,
    expected: Option<u64>,
) -> Result<StagedFile, Error>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut writer = app.staging.create_expecting(limit, expected).await?;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::Malformed(format!("body interrupted: {e}")))?;
        writer.write(&chunk).await?;
    }
    Ok(IntakeStage::Stage.timed(writer.finish()).await?)
}
