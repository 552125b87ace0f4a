//! The one CSV writer of guichet's exports (the campaign exports, the staff pages' dossier
//! list): UTF-8, comma-separated, CRLF lines, fields quoted when needed (the `csv` crate),
//! and defused against spreadsheet formulas: a field that starts with `=`, `+`, `-`, `@`, a
//! tab or a carriage return gets a leading `'`, so that a candidate named `=HYPERLINK(...)`
//! is read as text, never run.

use std::borrow::Cow;
use std::future::Future;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::error::Error;

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// `text`, prefixed with `'` when a spreadsheet would take it for a formula.
pub fn defuse(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Records as CSV lines, every field defused.
pub fn lines<R, F>(records: impl IntoIterator<Item = R>) -> Result<Bytes, Error>
where
    R: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    let internal = |e: &dyn std::fmt::Display| Error::Internal(format!("csv: {e}"));
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in records {
        let fields: Vec<String> = record
            .into_iter()
            .map(|field| defuse(field.as_ref()).into_owned())
            .collect();
        writer.write_record(&fields).map_err(|e| internal(&e))?;
    }
    let bytes = writer.into_inner().map_err(|e| internal(&e))?;
    Ok(Bytes::from(bytes))
}

/// A CSV body: `header`, then the records each call of `next` gives (a page of them, and the
/// state for the next call), until it gives `None`. Pages are read as the body is sent, so
/// one page at a time is in memory. A failure is logged and ends the body with an error.
pub fn stream<S, Fut>(
    header: Vec<String>,
    state: S,
    next: impl FnMut(S) -> Fut + Send + 'static,
) -> BoxStream<'static, Result<Bytes, std::io::Error>>
where
    S: Send + 'static,
    Fut: Future<Output = Result<Option<(Vec<Vec<String>>, S)>, Error>> + Send + 'static,
{
    let head = stream::once(async move { lines([header]) });
    let pages = stream::try_unfold(state, next).map(|page| page.and_then(lines));
    head.chain(pages)
        .map_err(|e| {
            tracing::error!(error = %e, "CSV export cut short");
            std::io::Error::other(e.to_string())
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        String::from_utf8(lines([fields]).expect("written").to_vec()).expect("UTF-8")
    }

    #[test]
    fn fields_are_quoted_and_defused() {
        assert_eq!(line(&["plain", "a,b"]), "plain,\"a,b\"\r\n");
        assert_eq!(line(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(line(&["=SUM(A1)", "@cmd"]), "'=SUM(A1),'@cmd\r\n");
        assert_eq!(line(&["+1,2"]), "\"'+1,2\"\r\n");
        assert_eq!(line(&["-2", "\tx"]), "'-2,'\tx\r\n");
        assert_eq!(line(&["two\nlines", ""]), "\"two\nlines\",\r\n");
        assert_eq!(line(&["Éloïse", "a=b"]), "Éloïse,a=b\r\n");
    }

    #[tokio::test]
    async fn a_body_is_the_header_then_each_page() {
        let body = stream(vec!["n".into()], 0, |n: u32| async move {
            Ok((n < 2).then(|| (vec![vec![n.to_string()], vec!["=x".into()]], n + 1)))
        });
        let parts: Vec<Bytes> = body.try_collect().await.expect("no failure");
        let text: String = parts
            .iter()
            .map(|p| std::str::from_utf8(p).expect("UTF-8"))
            .collect();
        assert_eq!(text, "n\r\n0\r\n'=x\r\n1\r\n'=x\r\n");
    }

    #[tokio::test]
    async fn a_failure_ends_the_body_with_an_error() {
        let body = stream(vec!["n".into()], (), |()| async {
            Err::<Option<(Vec<Vec<String>>, ())>, _>(Error::Unavailable("down".into()))
        });
        let parts: Vec<Result<Bytes, std::io::Error>> = body.collect().await;
        assert_eq!(parts.len(), 2);
        assert!(parts[1].is_err());
    }
}
