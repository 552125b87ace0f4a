//! The kinds of document a piece can accept. A kind is always detected from content,
//! never taken from a file name; these names are the ones campaign files use in `accept`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pdf,
    Jpeg,
    Png,
    Tiff,
    Webp,
    Gif,
    Bmp,
    Heic,
    Avif,
    Jp2,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Pdf,
        Kind::Jpeg,
        Kind::Png,
        Kind::Tiff,
        Kind::Webp,
        Kind::Gif,
        Kind::Bmp,
        Kind::Heic,
        Kind::Avif,
        Kind::Jp2,
    ];

    /// The name used in campaign files and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
            Kind::Tiff => "tiff",
            Kind::Webp => "webp",
            Kind::Gif => "gif",
            Kind::Bmp => "bmp",
            Kind::Heic => "heic",
            Kind::Avif => "avif",
            Kind::Jp2 => "jp2",
        }
    }

    /// The media type served with content of this kind.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Tiff => "image/tiff",
            Kind::Webp => "image/webp",
            Kind::Gif => "image/gif",
            Kind::Bmp => "image/bmp",
            Kind::Heic => "image/heic",
            Kind::Avif => "image/avif",
            Kind::Jp2 => "image/jp2",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}` (known: pdf, jpeg, png, tiff, webp, gif, bmp, heic, avif, jp2)")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "jpg" => "jpeg",
            "tif" => "tiff",
            "heif" => "heic",
            other => other,
        };
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_resolve() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>(), Ok(kind));
        }
        assert_eq!("JPG".parse::<Kind>(), Ok(Kind::Jpeg));
        assert_eq!("tif".parse::<Kind>(), Ok(Kind::Tiff));
        assert!("docx".parse::<Kind>().is_err());
    }
}
