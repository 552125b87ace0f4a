//! HEIC and AVIF: verified with libheif (accepted when the primary image decodes whole,
//! refused with a specific reason otherwise), and their JPEG display copy: turned as the file
//! says, at most 2048 pixels a side, and without any metadata. The fixtures and how they were
//! made: `tests/fixtures/heif/README.md`; the corpus files are checked when the corpus is
//! beside the repository.

mod support;

use std::path::Path;

use dossiers::Kind;
use image::{GenericImageView, Rgba};
use support::check;
use validators::{DISPLAY_MAX_SIDE, Limits, ReasonCode, Verdict, display_copy};

fn fixture(name: &str) -> Vec<u8> {
    support::fixture("heif", name)
}

fn codes(verdict: &Verdict) -> Vec<ReasonCode> {
    verdict.reasons.iter().map(|r| r.code).collect()
}

fn corpus(path: &str) -> Option<Vec<u8>> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(path);
    let bytes = std::fs::read(&file).ok();
    if bytes.is_none() {
        println!("SKIPPED: no {}", file.display());
    }
    bytes
}

/// The display copy of `content`, decoded, after checking it is a bare JPEG.
fn shown(content: &[u8], kind: Kind) -> image::DynamicImage {
    let jpeg = display_copy(content, kind, &Limits::default()).expect("a display copy");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert_eq!(
        app_segments(&jpeg),
        vec![0xE0],
        "no segment but JFIF's APP0: no EXIF, XMP or ICC profile"
    );
    image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("decodes")
}

/// The APPn markers of a JPEG's header, in order (up to its first scan).
fn app_segments(jpeg: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == 0xDA {
            break;
        }
        if (0xE0..=0xEF).contains(&marker) {
            markers.push(marker);
        }
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        at += 2 + length;
    }
    markers
}

fn is_red(p: Rgba<u8>) -> bool {
    p[0] > 180 && p[1] < 80 && p[2] < 80
}

fn is_blue(p: Rgba<u8>) -> bool {
    p[0] < 80 && p[2] > 180
}

/// The fixtures are a grey picture with a red block at its top left and a blue one at its
/// bottom right, as coded; the orientation moves them.
fn corners(picture: &image::DynamicImage) -> [Rgba<u8>; 4] {
    let (w, h) = picture.dimensions();
    let at = |x: u32, y: u32| picture.get_pixel(x, y);
    [at(5, 5), at(w - 6, 5), at(5, h - 6), at(w - 6, h - 6)]
}

#[test]
fn corpus_heic_and_avif_photos_are_accepted() {
    for (path, kind, size) in [
        ("img-valid/libheif_example.heic", Kind::Heic, (1280, 854)),
        ("img-valid/libheif_example.avif", Kind::Avif, (800, 533)),
        ("scans/paperless_simple.heic", Kind::Heic, (1345, 447)),
    ] {
        let Some(bytes) = corpus(path) else { continue };
        let verdict = check(&bytes, path.rsplit('/').next().unwrap_or(path));
        assert!(verdict.accepted(), "{path}: {:?}", verdict.reasons);
        assert_eq!(verdict.detected_kind(), Some(kind), "{path}");
        assert_eq!(
            (verdict.width, verdict.height),
            (Some(size.0), Some(size.1))
        );
        assert_eq!(verdict.pages, Some(1));
        let picture = shown(&bytes, kind);
        assert_eq!(picture.dimensions(), size, "{path}: not scaled below 2048");
    }
    // 72x72 with alpha: a valid file, too small to read as a document.
    if let Some(bytes) = corpus("img-valid/libheif_colors-with-alpha-thumbnail.heic") {
        let verdict = check(&bytes, "colors.heic");
        assert_eq!(codes(&verdict), [ReasonCode::ImageTooSmall]);
        let limits = Limits {
            min_image_side: 0,
            ..Limits::default()
        };
        let declared = validators::Declared::named("colors.heic");
        let verdict = validators::validate(&bytes, &declared, &Default::default(), &limits);
        assert!(verdict.accepted(), "{:?}", verdict.reasons);
        assert_eq!(shown(&bytes, Kind::Heic).dimensions(), (72, 72));
    }
}

#[test]
fn corpus_hostile_heic_files_are_refused() {
    for path in [
        "img-hostile/libheif_clap-overflow-divide-zero.heic",
        "img-hostile/libheif_clusterfuzz_5752063708495872.heic",
        "img-hostile/libheif_github_15.heic",
    ] {
        let Some(bytes) = corpus(path) else { continue };
        let verdict = check(&bytes, "photo.heic");
        assert!(!verdict.accepted(), "{path} accepted");
        assert!(
            display_copy(&bytes, Kind::Heic, &Limits::default()).is_none(),
            "{path}: no display copy of what does not decode"
        );
    }
    if let Some(bytes) = corpus("img-hostile/mislabeled_heic-as.jpg") {
        let verdict = check(&bytes, "mislabeled_heic-as.jpg");
        assert_eq!(codes(&verdict), [ReasonCode::KindMismatch]);
    }
}

#[test]
fn the_exif_orientation_turns_the_display_copy_when_the_container_does_not() {
    // Coded 320x240 with EXIF orientation 6 (turn 90° clockwise) and no `irot`.
    let bytes = fixture("exif6_only.heic");
    let verdict = check(&bytes, "photo.heic");
    assert!(verdict.accepted(), "{:?}", verdict.reasons);
    let picture = shown(&bytes, Kind::Heic);
    assert_eq!(picture.dimensions(), (240, 320));
    let [top_left, top_right, bottom_left, bottom_right] = corners(&picture);
    assert!(is_red(top_right), "{top_right:?}");
    assert!(is_blue(bottom_left), "{bottom_left:?}");
    assert!(!is_red(top_left) && !is_blue(bottom_right));
}

#[test]
fn a_container_turn_is_applied_once_whatever_the_exif_says() {
    // The same picture with `irot` (turned by libheif) and the EXIF orientation 6 kept, as
    // phones write them: turning again by the EXIF would show it upside down.
    let bytes = fixture("irot_and_exif6.heic");
    let verdict = check(&bytes, "photo.heic");
    assert!(verdict.accepted(), "{:?}", verdict.reasons);
    assert_eq!((verdict.width, verdict.height), (Some(240), Some(320)));
    let picture = shown(&bytes, Kind::Heic);
    assert_eq!(picture.dimensions(), (240, 320));
    let [_, top_right, bottom_left, _] = corners(&picture);
    assert!(is_red(top_right), "{top_right:?}");
    assert!(is_blue(bottom_left), "{bottom_left:?}");

    // Mirrored (`imir`, EXIF orientation 2): the red block at the top right, same size.
    let picture = shown(&fixture("imir_and_exif2.heic"), Kind::Heic);
    assert_eq!(picture.dimensions(), (320, 240));
    let [top_left, top_right, bottom_left, _] = corners(&picture);
    assert!(is_red(top_right), "{top_right:?}");
    assert!(is_blue(bottom_left) && !is_red(top_left));
}

#[test]
fn a_phone_sized_photo_is_scaled_down_turned_and_stripped() {
    // 4032x3024 as coded, EXIF orientation 6, GPS position and camera in its EXIF.
    let bytes = fixture("large_exif6.heic");
    let verdict = check(&bytes, "IMG_0001.HEIC");
    assert!(verdict.accepted(), "{:?}", verdict.reasons);
    assert_eq!((verdict.width, verdict.height), (Some(4032), Some(3024)));
    let jpeg = display_copy(&bytes, Kind::Heic, &Limits::default()).expect("a display copy");
    for secret in [&b"Exif"[..], b"TestPhone", b"GPS"] {
        assert!(
            !jpeg.windows(secret.len()).any(|w| w == secret),
            "{}",
            String::from_utf8_lossy(secret)
        );
    }
    let picture = shown(&bytes, Kind::Heic);
    assert_eq!(picture.dimensions(), (1536, DISPLAY_MAX_SIDE));
    let [_, top_right, bottom_left, _] = corners(&picture);
    assert!(is_red(top_right) && is_blue(bottom_left));
    // Pure: the same bytes again.
    assert_eq!(
        display_copy(&bytes, Kind::Heic, &Limits::default()),
        Some(jpeg)
    );
}

#[test]
fn limits_refuse_before_decoding_and_damage_is_refused() {
    let bytes = fixture("large_exif6.heic");
    let declared = validators::Declared::named("IMG_0001.HEIC");
    for limits in [
        Limits {
            max_pixels: 10_000_000,
            ..Limits::default()
        },
        Limits {
            max_image_side: 4_000,
            ..Limits::default()
        },
        Limits {
            max_image_alloc: 16 << 20,
            ..Limits::default()
        },
    ] {
        let verdict = validators::validate(&bytes, &declared, &Default::default(), &limits);
        assert_eq!(codes(&verdict), [ReasonCode::ImageTooLarge], "{limits:?}");
        assert!(display_copy(&bytes, Kind::Heic, &limits).is_none());
    }

    let whole = fixture("exif6_only.heic");
    let cut = &whole[..whole.len() - 200];
    let verdict = check(cut, "photo.heic");
    assert!(
        matches!(
            codes(&verdict)[..],
            [ReasonCode::ImageTruncated] | [ReasonCode::ImageCorrupt]
        ),
        "{:?}",
        verdict.reasons
    );
    // Damage to the container (`exif6_only.heic`: its item locations, `iloc`, at byte 108;
    // its item references, `iref`, at 396) or to the start of its data (the `mdat` box header
    // and the first NAL unit's length, from 412) is refused. Bit errors inside the coded pixels are not always seen:
    // HEVC has no checksum and libde265 conceals them, as JPEG decoders do.
    for (at, expected) in [
        (108, ReasonCode::ImageStructure),
        (396, ReasonCode::ImageStructure),
        (412, ReasonCode::ImageTruncated),
    ] {
        let mut damaged = whole.clone();
        for b in &mut damaged[at..at + 16] {
            *b ^= 0x5A;
        }
        let verdict = check(&damaged, "photo.heic");
        assert_eq!(
            codes(&verdict),
            [expected],
            "at {at}: {:?}",
            verdict.reasons
        );
    }

    // Whatever the bytes, no panic: every prefix of a small file.
    for len in 0..whole.len() {
        let _ = check(&whole[..len], "photo.heic");
        let _ = display_copy(&whole[..len], Kind::Heic, &Limits::default());
    }
}

#[test]
fn other_kinds_have_no_display_copy() {
    let png = {
        let img = image::RgbImage::from_pixel(200, 200, image::Rgb([1, 2, 3]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    };
    assert!(display_copy(&png, Kind::Png, &Limits::default()).is_none());
    assert!(display_copy(&fixture("exif6_only.heic"), Kind::Jpeg, &Limits::default()).is_none());
}
