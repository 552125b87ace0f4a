//! Photos and single images (JPEG, PNG, WebP, GIF's first frame, BMP), decoded by `image`
//! within limits, turned the way their EXIF orientation says.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use dossiers::Kind;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::{Limits, RenderError};

pub(crate) struct Photo {
    path: PathBuf,
    format: ImageFormat,
    max_alloc: u64,
}

impl Photo {
    /// The photo at `path`; decoded only when drawn, so that a photo that does not decode is a
    /// page that failed, with its reason, not a document without pages.
    pub(crate) fn open(path: &Path, kind: Kind, limits: &Limits) -> Result<Photo, RenderError> {
        let format = match kind {
            Kind::Jpeg => ImageFormat::Jpeg,
            Kind::Png => ImageFormat::Png,
            Kind::Webp => ImageFormat::WebP,
            Kind::Gif => ImageFormat::Gif,
            Kind::Bmp => ImageFormat::Bmp,
            other => {
                return Err(RenderError::NotRenderable(format!(
                    "{other} is not a photo format"
                )));
            }
        };
        // An unreadable file is the caller's error, not a page's.
        File::open(path)?;
        Ok(Photo {
            path: path.to_path_buf(),
            format,
            // Half of the memory the renderer has: the decoded photo is copied once to be
            // scaled.
            max_alloc: limits.memory_bytes / 2,
        })
    }

    pub(crate) fn draw(&self) -> Result<DynamicImage, String> {
        let file = File::open(&self.path).map_err(|e| format!("reading the photo: {e}"))?;
        let mut reader = ImageReader::with_format(BufReader::new(file), self.format);
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(self.max_alloc);
        reader.limits(limits);
        let undecodable = |e: image::ImageError| format!("the photo does not decode: {e}");
        let mut decoder = reader.into_decoder().map_err(undecodable)?;
        // Checked before the pixels are allocated: not every decoder holds to `max_alloc`.
        if decoder.total_bytes() > self.max_alloc {
            let (width, height) = decoder.dimensions();
            return Err(format!(
                "a photo of {width}×{height} pixels is too large to draw"
            ));
        }
        // A photo whose orientation cannot be read is shown as stored.
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut photo = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
        photo.apply_orientation(orientation);
        Ok(photo)
    }
}
