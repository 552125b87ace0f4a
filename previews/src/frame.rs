//! The records a child writes on its standard output, one as soon as there is something to
//! say: a JSON header on one line, then the bytes it announces.
//!
//! ```text
//! {"record":"document","pages":12}
//! {"record":"page","page":3,"failure":null,"thumbnail":{"width":200,"height":283,"bytes":8123},"reading":{"width":1600,"height":2263,"bytes":160234}}
//! <the thumbnail's 8123 JPEG bytes><the reading image's 160234 JPEG bytes>
//! {"record":"not_renderable","reason":"the PDF's pages cannot be found"}
//! {"record":"error","reason":"reading the document: …"}
//! ```
//!
//! The reader bounds what it reads: a header line of at most 64 KiB, images of at most
//! 256 MiB, so that a confused child cannot make the parent allocate without end.

use std::io::{self, BufRead, Read, Write};

use serde::{Deserialize, Serialize};

use crate::{PageImage, RenderedPage};

const MAX_HEADER: u64 = 64 << 10;
const MAX_IMAGE: u64 = 256 << 20;

#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Header {
    Document {
        pages: u32,
    },
    Page {
        page: u32,
        failure: Option<String>,
        thumbnail: Size,
        reading: Size,
    },
    NotRenderable {
        reason: String,
    },
    Error {
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Size {
    width: u32,
    height: u32,
    bytes: u64,
}

impl Size {
    fn of(image: &PageImage) -> Size {
        Size {
            width: image.width,
            height: image.height,
            bytes: image.jpeg.len() as u64,
        }
    }
}

/// A record as the parent reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// The document's number of pages: the first record of every child.
    Document {
        pages: u32,
    },
    Page(RenderedPage),
    NotRenderable(String),
    Error(String),
}

fn write_header(out: &mut impl Write, header: &Header) -> io::Result<()> {
    serde_json::to_writer(&mut *out, header)?;
    out.write_all(b"\n")
}

pub(crate) fn write_document(out: &mut impl Write, pages: u32) -> io::Result<()> {
    write_header(out, &Header::Document { pages })
}

pub(crate) fn write_page(out: &mut impl Write, page: &RenderedPage) -> io::Result<()> {
    write_header(
        out,
        &Header::Page {
            page: page.page,
            failure: page.failure.clone(),
            thumbnail: Size::of(&page.thumbnail),
            reading: Size::of(&page.reading),
        },
    )?;
    out.write_all(&page.thumbnail.jpeg)?;
    out.write_all(&page.reading.jpeg)
}

pub(crate) fn write_not_renderable(out: &mut impl Write, reason: &str) -> io::Result<()> {
    let reason = reason.to_string();
    write_header(out, &Header::NotRenderable { reason })
}

pub(crate) fn write_error(out: &mut impl Write, reason: &str) -> io::Result<()> {
    let reason = reason.to_string();
    write_header(out, &Header::Error { reason })
}

/// The next record, or `None` at the end of the stream between records.
pub(crate) fn read(input: &mut impl BufRead) -> io::Result<Option<Record>> {
    let mut line = Vec::new();
    input.take(MAX_HEADER).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(invalid("a record header cut short or too long"));
    }
    let header: Header = serde_json::from_slice(&line)
        .map_err(|e| invalid(&format!("a record header that does not read: {e}")))?;
    Ok(Some(match header {
        Header::Document { pages } => Record::Document { pages },
        Header::NotRenderable { reason } => Record::NotRenderable(reason),
        Header::Error { reason } => Record::Error(reason),
        Header::Page {
            page,
            failure,
            thumbnail,
            reading,
        } => Record::Page(RenderedPage {
            page,
            thumbnail: read_image(input, thumbnail)?,
            reading: read_image(input, reading)?,
            failure,
        }),
    }))
}

fn read_image(input: &mut impl Read, size: Size) -> io::Result<PageImage> {
    if size.bytes > MAX_IMAGE {
        return Err(invalid(&format!("an image of {} bytes", size.bytes)));
    }
    let mut jpeg = vec![0; size.bytes as usize];
    input.read_exact(&mut jpeg)?;
    Ok(PageImage {
        width: size.width,
        height: size.height,
        jpeg,
    })
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, bytes: &[u8]) -> PageImage {
        PageImage {
            width,
            height: width * 2,
            jpeg: bytes.to_vec(),
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let page = RenderedPage {
            page: 2,
            thumbnail: image(200, b"\xFF\xD8thumb\n\xFF\xD9"),
            reading: image(1600, b"\xFF\xD8reading\xFF\xD9"),
            failure: Some("rendering took more than 20 s\nsecond line".into()),
        };
        let mut out = Vec::new();
        write_document(&mut out, 7).expect("written");
        write_page(&mut out, &page).expect("written");
        write_not_renderable(&mut out, "no pages").expect("written");
        write_error(&mut out, "disk").expect("written");
        let mut input = &out[..];
        assert_eq!(
            read(&mut input).ok().flatten(),
            Some(Record::Document { pages: 7 })
        );
        assert_eq!(read(&mut input).ok().flatten(), Some(Record::Page(page)));
        assert_eq!(
            read(&mut input).ok().flatten(),
            Some(Record::NotRenderable("no pages".into()))
        );
        assert_eq!(
            read(&mut input).ok().flatten(),
            Some(Record::Error("disk".into()))
        );
        assert_eq!(read(&mut input).ok().flatten(), None);
    }

    #[test]
    fn cut_or_oversized_records_are_errors() {
        let mut out = Vec::new();
        write_page(
            &mut out,
            &RenderedPage {
                page: 1,
                thumbnail: image(2, b"abc"),
                reading: image(3, b"defgh"),
                failure: None,
            },
        )
        .expect("written");
        let cut = &out[..out.len() - 1];
        assert!(read(&mut &cut[..]).is_err(), "an image cut short");
        let header_cut = &out[..10];
        assert!(read(&mut &header_cut[..]).is_err(), "a header cut short");
        let huge = format!(
            "{{\"record\":\"page\",\"page\":1,\"failure\":null,\"thumbnail\":{{\"width\":1,\"height\":1,\"bytes\":{}}},\"reading\":{{\"width\":1,\"height\":1,\"bytes\":1}}}}\n",
            u64::MAX
        );
        assert!(read(&mut huge.as_bytes()).is_err(), "an image too large");
        let endless = vec![b'x'; 100 << 10];
        assert!(read(&mut &endless[..]).is_err(), "a header without end");
    }
}
