//! A client of clamd, the ClamAV daemon: `INSTREAM` over TCP (`tcp://host:port`) or a unix
//! socket (`unix:/path/clamd.sock`). Built with the `clamd` feature (it needs tokio), so the
//! rest of this crate stays plain synchronous code.
//!
//! The protocol: `zINSTREAM\0`, then the content in chunks, each preceded by its length as 4
//! bytes big-endian, then a zero length; clamd answers one NUL-terminated line:
//! `stream: OK`, `stream: <signature> FOUND`, or `<why> ERROR`.
//!
//! Invariants: the content is read from an async reader in chunks of [`CHUNK`] bytes, never
//! held whole; connecting and the whole scan are bounded by timeouts; clamd's answer is read
//! even when a write failed. That last one matters: when a stream exceeds clamd's
//! `StreamMaxLength`, clamd answers `INSTREAM size limit exceeded. ERROR` and closes, and the
//! writer sees a broken pipe while the answer waits in its receive buffer.
//!
//! Why not the `clamav-client` crate (2.3, tokio feature, maintained): it turns a failed write
//! into an error and drops the answer (so the size limit reads as a broken connection), it
//! decides "clean" by looking for `OK` anywhere in the answer, and it has no timeouts.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// The size of each chunk sent to clamd: the most content held in memory per scan.
pub const CHUNK: usize = 64 * 1024;

/// clamd's answers are one short line; anything longer is not clamd.
const MAX_ANSWER: u64 = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `tcp://host:port`.
    Tcp(String),
    /// `unix:/path/clamd.sock` (also `unix:///path`).
    Unix(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clamd address {0:?}: expected tcp://HOST:PORT or unix:/PATH")]
pub struct AddressError(String);

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let invalid = || AddressError(s.to_string());
        if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest.rsplit_once(':').ok_or_else(invalid)?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(invalid());
            }
            return Ok(Address::Tcp(rest.to_string()));
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(invalid());
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        Err(invalid())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(host_port) => write!(f, "tcp://{host_port}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// What clamd found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanResult {
    Clean,
    /// A signature matched; its name as clamd gives it (custom ones end in `.UNOFFICIAL`).
    Infected {
        signature: String,
    },
}

/// Why there is no [`ScanResult`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClamdError {
    /// No connection (refused, no socket, timed out): try again later.
    #[error("clamd at {address} is unreachable: {message}")]
    Unreachable { address: String, message: String },
    /// Connected, but the scan did not finish in time.
    #[error("clamd did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection broke before an answer.
    #[error("connection to clamd broken: {0}")]
    Broken(String),
    /// The content is longer than clamd's `StreamMaxLength`: the same content will never scan.
    #[error("the content exceeds clamd's StreamMaxLength")]
    SizeLimit,
    /// clamd answered an error (`... ERROR`).
    #[error("clamd could not scan: {0}")]
    Refused(String),
    /// clamd's answer is not one this client understands.
    #[error("unexpected answer from clamd: {0:?}")]
    Protocol(String),
    /// Reading the content to scan failed (on this side).
    #[error("reading the content to scan: {0}")]
    Content(String),
}

impl ClamdError {
    /// Whether the same scan may succeed later (clamd back, less busy, the content readable
    /// again). Only the size limit is not fixed by waiting.
    pub fn is_transient(&self) -> bool {
        !matches!(self, ClamdError::SizeLimit)
    }
}

/// A clamd to scan with. Cheap to clone; every scan opens its own connection.
#[derive(Debug, Clone)]
pub struct Clamd {
    address: Address,
    connect_timeout: Duration,
    scan_timeout: Duration,
}

impl Clamd {
    /// Defaults: 5 s to connect, 120 s for a whole scan (clamd's own default scan time limit).
    pub fn new(address: Address) -> Clamd {
        Clamd {
            address,
            connect_timeout: Duration::from_secs(5),
            scan_timeout: Duration::from_secs(120),
        }
    }

    pub fn with_timeouts(mut self, connect: Duration, scan: Duration) -> Clamd {
        self.connect_timeout = connect;
        self.scan_timeout = scan;
        self
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// `PING`: whether clamd is there and answering.
    pub async fn ping(&self) -> Result<(), ClamdError> {
        let answer = self
            .exchange(|mut conn| async move {
                conn.write_all(b"zPING\0").await.map_err(broken)?;
                read_answer(&mut conn).await.map_err(broken)
            })
            .await?;
        match answer_text(&answer) {
            "PONG" => Ok(()),
            other => Err(ClamdError::Protocol(other.to_string())),
        }
    }

    /// Streams `content` to clamd (`INSTREAM`) and returns its verdict.
    pub async fn scan<R>(&self, content: R) -> Result<ScanResult, ClamdError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let answer = self
            .exchange(|conn| async move { instream(conn, content).await })
            .await?;
        parse_answer(&answer)
    }

    /// Connects (within the connect timeout) and runs `talk` (within the scan timeout).
    async fn exchange<F, Fut>(&self, talk: F) -> Result<Vec<u8>, ClamdError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = Result<Vec<u8>, ClamdError>>,
    {
        let unreachable = |message: String| ClamdError::Unreachable {
            address: self.address.to_string(),
            message,
        };
        let connecting = async {
            Ok::<_, std::io::Error>(match &self.address {
                Address::Tcp(host_port) => Connection::Tcp(TcpStream::connect(host_port).await?),
                Address::Unix(path) => Connection::Unix(UnixStream::connect(path).await?),
            })
        };
        let conn = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| unreachable(format!("no connection within {:?}", self.connect_timeout)))?
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::time::timeout(self.scan_timeout, talk(conn))
            .await
            .map_err(|_| ClamdError::Timeout(self.scan_timeout))?
    }
}

/// Sends the command, the chunks and the terminator, then reads the answer, also when a write
/// failed (clamd answers and closes when the stream exceeds its limit).
async fn instream<R>(mut conn: Connection, mut content: R) -> Result<Vec<u8>, ClamdError>
where
    R: AsyncRead + Unpin,
{
    let sent = send(&mut conn, &mut content).await;
    if let Err(SendError::Content(e)) = sent {
        // clamd still waits for chunks: there is no answer to read.
        return Err(ClamdError::Content(e.to_string()));
    }
    let read = read_answer(&mut conn).await;
    match (sent, read) {
        (_, Ok(answer)) if !answer.is_empty() => Ok(answer),
        (Err(SendError::Connection(e)), _) | (Ok(()), Err(e)) => Err(broken(e)),
        (_, _) => Err(ClamdError::Broken("clamd closed without an answer".into())),
    }
}

enum SendError {
    /// Reading the content failed.
    Content(std::io::Error),
    /// Writing to clamd failed.
    Connection(std::io::Error),
}

async fn send<R>(conn: &mut Connection, content: &mut R) -> Result<(), SendError>
where
    R: AsyncRead + Unpin,
{
    conn.write_all(b"zINSTREAM\0")
        .await
        .map_err(SendError::Connection)?;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let read = content.read(&mut chunk).await.map_err(SendError::Content)?;
        let length = u32::try_from(read).expect("a chunk is at most CHUNK bytes");
        conn.write_all(&length.to_be_bytes())
            .await
            .map_err(SendError::Connection)?;
        if read == 0 {
            break;
        }
        conn.write_all(&chunk[..read])
            .await
            .map_err(SendError::Connection)?;
    }
    conn.flush().await.map_err(SendError::Connection)
}

/// Reads up to the answer's NUL terminator. An error after part of the answer (clamd closing
/// on unread chunks resets the connection) still returns what arrived.
async fn read_answer(conn: &mut Connection) -> std::io::Result<Vec<u8>> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 512];
    while (answer.len() as u64) < MAX_ANSWER && !answer.contains(&0) {
        match conn.read(&mut buffer).await {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) if !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(answer)
}

fn broken(e: std::io::Error) -> ClamdError {
    ClamdError::Broken(e.to_string())
}

/// The answer without its NUL terminator and surrounding blanks.
fn answer_text(answer: &[u8]) -> &str {
    std::str::from_utf8(answer)
        .unwrap_or("")
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
}

/// Reads clamd's answer to `INSTREAM`.
pub fn parse_answer(answer: &[u8]) -> Result<ScanResult, ClamdError> {
    let text = answer_text(answer);
    if let Some(why) = text.strip_suffix("ERROR") {
        let why = why.trim().trim_end_matches('.');
        if why.contains("size limit exceeded") {
            return Err(ClamdError::SizeLimit);
        }
        return Err(ClamdError::Refused(why.to_string()));
    }
    let Some(result) = text.strip_prefix("stream:") else {
        return Err(ClamdError::Protocol(text.to_string()));
    };
    let result = result.trim();
    if result == "OK" {
        return Ok(ScanResult::Clean);
    }
    match result.strip_suffix(" FOUND") {
        Some(signature) if !signature.trim().is_empty() => Ok(ScanResult::Infected {
            signature: signature.trim().to_string(),
        }),
        _ => Err(ClamdError::Protocol(text.to_string())),
    }
}

/// A connection to clamd of either kind.
enum Connection {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Connection {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Connection::Unix(s) => std::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Connection::Unix(s) => std::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_flush(cx),
            Connection::Unix(s) => std::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Connection::Unix(s) => std::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        assert_eq!(
            "tcp://127.0.0.1:3310".parse::<Address>(),
            Ok(Address::Tcp("127.0.0.1:3310".into()))
        );
        assert_eq!(
            "unix:/run/clamav/clamd.ctl".parse::<Address>(),
            Ok(Address::Unix("/run/clamav/clamd.ctl".into()))
        );
        assert_eq!(
            "unix:///run/clamd.sock".parse::<Address>(),
            Ok(Address::Unix("/run/clamd.sock".into()))
        );
        for bad in [
            "127.0.0.1:3310",
            "tcp://host",
            "tcp://:1",
            "tcp://h:99999",
            "unix:rel",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
        let address: Address = "unix:/a/b.sock".parse().expect("valid");
        assert_eq!(address.to_string(), "unix:/a/b.sock");
    }

    #[test]
    fn answers_parse() {
        assert_eq!(parse_answer(b"stream: OK\0"), Ok(ScanResult::Clean));
        assert_eq!(
            parse_answer(b"stream: Eicar-Test-Signature FOUND\0"),
            Ok(ScanResult::Infected {
                signature: "Eicar-Test-Signature".into()
            })
        );
        // A signature name containing "OK" is still a detection.
        assert_eq!(
            parse_answer(b"stream: Win.OK.Trojan FOUND\n"),
            Ok(ScanResult::Infected {
                signature: "Win.OK.Trojan".into()
            })
        );
        assert_eq!(
            parse_answer(b"INSTREAM size limit exceeded. ERROR\0"),
            Err(ClamdError::SizeLimit)
        );
        assert_eq!(
            parse_answer(b"stream: Can't allocate memory ERROR\0"),
            Err(ClamdError::Refused("stream: Can't allocate memory".into()))
        );
        assert!(matches!(
            parse_answer(b"HTTP/1.1 400 Bad Request"),
            Err(ClamdError::Protocol(_))
        ));
        assert!(matches!(
            parse_answer(b"stream:  FOUND"),
            Err(ClamdError::Protocol(_))
        ));
        assert!(ClamdError::Timeout(Duration::from_secs(1)).is_transient());
        assert!(!ClamdError::SizeLimit.is_transient());
    }
}
