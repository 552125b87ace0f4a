use super::*;
use lopdf::{Object, ObjectId, Stream, dictionary};

/// A one-page PDF; `tweak` may edit the document before it is written.
pub(crate) fn pdf_with(tweak: impl FnOnce(&mut Document, ObjectId, ObjectId)) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let content = Stream::new(
        dictionary! {},
        b"BT /F1 12 Tf 72 712 Td (Bonjour) Tj ET".to_vec(),
    );
    let content_id = doc.add_object(content);
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    tweak(&mut doc, catalog_id, page_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("write pdf");
    out
}

/// A PDF of `pages` pages: [`pdf_with`]'s page and copies of it, each with its own content
/// stream.
pub(crate) fn pdf_of_pages(pages: usize) -> Vec<u8> {
    pdf_with(move |doc, _, first| {
        let page = doc.get_dictionary(first).expect("the page").clone();
        let parent = page
            .get(b"Parent")
            .and_then(Object::as_reference)
            .expect("its page tree");
        let mut kids: Vec<Object> = vec![first.into()];
        for n in 1..pages {
            let text = format!("BT /F1 12 Tf 72 712 Td (Page {n}) Tj ET");
            let content = doc.add_object(Stream::new(dictionary! {}, text.into_bytes()));
            let mut copy = page.clone();
            copy.set("Contents", content);
            kids.push(doc.add_object(copy).into());
        }
        let count = i64::try_from(pages).expect("few pages");
        set_in(doc, parent, "Kids", Object::Array(kids));
        set_in(doc, parent, "Count", count.into());
    })
}

fn codes(bytes: &[u8]) -> Vec<ReasonCode> {
    check(bytes, &Limits::default())
        .reasons
        .iter()
        .map(|r| r.code)
        .collect()
}

fn set_in(doc: &mut Document, id: ObjectId, key: &str, value: Object) {
    if let Ok(Object::Dictionary(d)) = doc.get_object_mut(id) {
        d.set(key, value);
    }
}

#[test]
fn a_plain_pdf_passes_with_its_pages() {
    let f = check(&pdf_with(|_, _, _| {}), &Limits::default());
    assert!(f.reasons.is_empty(), "{:?}", f.reasons);
    assert_eq!(f.pages, Some(1));
}

#[test]
fn open_action_javascript_and_launch_are_refused() {
    let js = pdf_with(|doc, catalog, _| {
        let action = doc.add_object(
            dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") },
        );
        set_in(doc, catalog, "OpenAction", action.into());
    });
    let c = codes(&js);
    assert!(
        c.contains(&ReasonCode::PdfOpenAction) && c.contains(&ReasonCode::PdfJavascript),
        "{c:?}"
    );

    let launch = pdf_with(|doc, _, page| {
        let action = dictionary! { "S" => "Launch", "F" => Object::string_literal("calc.exe") };
        set_in(
            doc,
            page,
            "AA",
            Object::Dictionary(dictionary! { "O" => action }),
        );
    });
    let c = codes(&launch);
    assert!(
        c.contains(&ReasonCode::PdfLaunch) && c.contains(&ReasonCode::PdfAdditionalActions),
        "{c:?}"
    );
}

#[test]
fn a_goto_open_action_is_harmless() {
    let goto = pdf_with(|doc, catalog, page| {
        set_in(
            doc,
            catalog,
            "OpenAction",
            Object::Array(vec![page.into(), "Fit".into()]),
        );
    });
    assert_eq!(codes(&goto), vec![]);
}

#[test]
fn embedded_files_and_xfa_are_refused() {
    let embedded = pdf_with(|doc, catalog, _| {
        let names =
            dictionary! { "EmbeddedFiles" => dictionary! { "Names" => Object::Array(vec![]) } };
        set_in(doc, catalog, "Names", Object::Dictionary(names));
    });
    assert_eq!(codes(&embedded), vec![ReasonCode::PdfEmbeddedFile]);
    let xfa = pdf_with(|doc, catalog, _| {
        set_in(
            doc,
            catalog,
            "AcroForm",
            Object::Dictionary(dictionary! { "XFA" => Object::Array(vec![]) }),
        );
    });
    // A real XFA form without fields is dynamic: a valid kind guichet does not support.
    assert_eq!(codes(&xfa), vec![ReasonCode::KindNotSupported]);
    let claim = pdf_with(|doc, catalog, _| {
        set_in(doc, catalog, "NeedsRendering", Object::Boolean(true));
    });
    assert_eq!(codes(&claim), vec![ReasonCode::PdfXfa]);
}

#[test]
fn a_password_is_told_from_an_owner_only_protection() {
    // An /Encrypt entry whose dictionary lopdf cannot authenticate with an empty password.
    let locked = pdf_with(|doc, _, _| {
        let enc = doc.add_object(dictionary! {
                "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -4,
                "O" => Object::string_literal(vec![1u8; 32]), "U" => Object::string_literal(vec![2u8; 32]),
            });
        doc.trailer.set("Encrypt", enc);
        doc.trailer.set(
            "ID",
            Object::Array(vec![
                Object::string_literal(vec![3u8; 16]),
                Object::string_literal(vec![3u8; 16]),
            ]),
        );
    });
    assert_eq!(codes(&locked), vec![ReasonCode::PdfEncrypted]);

    // Encrypted for certificate holders: no password opens it, and the detail says so.
    let for_recipients = pdf_with(|doc, _, _| {
        let enc = doc.add_object(dictionary! {
            "Filter" => "Adobe.PubSec", "SubFilter" => "adbe.pkcs7.s5", "V" => 4, "R" => 4,
            "Recipients" => vec![Object::string_literal(vec![0x30u8, 0x82])],
        });
        doc.trailer.set("Encrypt", enc);
    });
    let f = check(&for_recipients, &Limits::default());
    assert_eq!(f.reasons.len(), 1, "{:?}", f.reasons);
    assert_eq!(f.reasons[0].code, ReasonCode::PdfEncrypted);
    let detail = f.reasons[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("Adobe.PubSec"), "{detail}");
}

#[test]
fn loops_depth_and_damage_are_refused() {
    let looping = pdf_with(|doc, _, page| {
        if let Ok(Object::Dictionary(d)) = doc.get_object_mut(page) {
            d.set("Type", "Pages");
            d.set("Kids", Object::Array(vec![page.into()]));
        }
    });
    assert!(
        codes(&looping).contains(&ReasonCode::PdfStructure),
        "{:?}",
        codes(&looping)
    );

    let deep = pdf_with(|doc, catalog, _| {
        let mut o = Object::Null;
        for _ in 0..90 {
            o = Object::Array(vec![o]);
        }
        set_in(doc, catalog, "Deep", o);
    });
    assert_eq!(codes(&deep), vec![ReasonCode::PdfTooComplex]);

    let good = pdf_with(|_, _, _| {});
    assert_eq!(
        codes(&good[..good.len() / 3]),
        vec![ReasonCode::PdfTruncated]
    );
    // After the last %%EOF: text is refused, another format is a polyglot, binary bytes (a
    // scanner's buffer) are ignored as readers ignore them, with a note.
    let after_end = |tail: &[u8]| [&good[..], tail].concat();
    assert_eq!(
        codes(&after_end(b"junkdata\n")),
        vec![ReasonCode::DataAfterEnd]
    );
    let mut entry = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    entry.resize(26, 0);
    entry.extend(b"\x05\x00\x00\x00shell");
    assert_eq!(codes(&after_end(&entry)), vec![ReasonCode::Polyglot]);
    let scanner = check(
        &after_end(&[0x8F, 0x01, 0xC4, 0x00, 0x7E, 0xFF]),
        &Limits::default(),
    );
    assert!(scanner.reasons.is_empty(), "{:?}", scanner.reasons);
    assert!(
        scanner
            .notes
            .iter()
            .any(|n| n.code == ReasonCode::PdfRepaired)
    );
}

#[test]
fn a_decompression_bomb_is_refused() {
    let bomb = pdf_with(|doc, _, page| {
        let mut s = Stream::new(dictionary! {}, vec![b' '; 4 << 20]);
        s.compress().expect("compress");
        let id = doc.add_object(s);
        set_in(doc, page, "Contents", id.into());
    });
    let limits = Limits {
        max_stream_bytes: 1 << 20,
        ..Limits::default()
    };
    let c: Vec<_> = check(&bomb, &limits)
        .reasons
        .iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(c, vec![ReasonCode::PdfDecompressionBomb]);
}

/// A text field with a format script on its widget (the pdfium `annot_javascript.pdf` case).
fn form_with_format_script(doc: &mut Document, catalog: ObjectId, page: ObjectId) {
    let script = dictionary! {
        "S" => "JavaScript",
        "JS" => Object::string_literal("AFDate_FormatEx(\"yyyy-mm-dd\");"),
    };
    let field = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Widget", "FT" => "Tx", "P" => page,
        "Rect" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "AA" => dictionary! { "F" => script },
    });
    set_in(doc, page, "Annots", Object::Array(vec![field.into()]));
    set_in(
        doc,
        catalog,
        "AcroForm",
        Object::Dictionary(dictionary! { "Fields" => vec![field.into()] }),
    );
}

/// The refusal of a form driven by scripts: `kind_not_supported`, naming what it carries.
fn refused_as_scripted_form(f: &Findings) -> bool {
    matches!(f.reasons.as_slice(), [r] if r.code == ReasonCode::KindNotSupported
        && r.detail.as_deref().is_some_and(|d| d.contains("driven by JavaScript") && d.contains("pdf_javascript")))
}

#[test]
fn form_field_scripts_refuse_unless_the_limits_accept_them() {
    let form = pdf_with(form_with_format_script);
    let f = check(&form, &Limits::default());
    assert!(refused_as_scripted_form(&f), "{:?}", f.reasons);
    let lenient = Limits {
        accept_form_scripts: true,
        ..Limits::default()
    };
    let f = check(&form, &lenient);
    assert!(f.reasons.is_empty(), "{:?}", f.reasons);
    assert!(f.notes.iter().any(|n| n.code == ReasonCode::PdfFormScripts));
    // A page-open trigger still refuses.
    let page_open = pdf_with(|doc, catalog, page| {
        form_with_format_script(doc, catalog, page);
        let js =
            dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") };
        set_in(
            doc,
            page,
            "AA",
            Object::Dictionary(dictionary! { "O" => js }),
        );
    });
    let f = check(&page_open, &lenient);
    assert!(refused_as_scripted_form(&f), "{:?}", f.reasons);
}

#[test]
fn scripts_outside_a_form_or_beside_other_active_content_keep_their_own_codes() {
    // JavaScript run on opening a document that has no form.
    let no_form = pdf_with(|doc, catalog, _| {
        let js =
            dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") };
        set_in(doc, catalog, "OpenAction", Object::Dictionary(js));
    });
    let c = codes(&no_form);
    assert!(c.contains(&ReasonCode::PdfJavascript), "{c:?}");
    assert!(!c.contains(&ReasonCode::KindNotSupported), "{c:?}");
    // A scripted form that also launches a program.
    let launching = pdf_with(|doc, catalog, page| {
        form_with_format_script(doc, catalog, page);
        let launch = dictionary! { "S" => "Launch", "F" => Object::string_literal("cmd.exe") };
        set_in(doc, catalog, "OpenAction", Object::Dictionary(launch));
    });
    let c = codes(&launching);
    assert!(c.contains(&ReasonCode::PdfLaunch), "{c:?}");
    assert!(!c.contains(&ReasonCode::KindNotSupported), "{c:?}");
}

#[test]
fn usage_rights_are_not_embedded_files() {
    let signed = pdf_with(|doc, catalog, _| {
        let rights = dictionary! { "EF" => vec![Object::Name(b"Create".to_vec())] };
        set_in(doc, catalog, "Perms", Object::Dictionary(rights));
    });
    assert_eq!(codes(&signed), vec![]);
}

#[test]
fn header_bytes_and_streams_without_length_are_read_like_viewers_do() {
    let mut spaced = pdf_with(|_, _, _| {});
    let eol = spaced
        .iter()
        .position(|b| *b == b'\n')
        .expect("header line");
    // `%PDF-1.5 %<binary>` on one line, as some generators write it; offsets unchanged.
    spaced[eol] = b' ';
    assert_eq!(codes(&spaced), vec![]);

    let mut no_length = pdf_with(|_, _, _| {});
    let at = crate::detect::find(&no_length, b"/Length").expect("a stream");
    no_length[at + 1] = b'Q';
    let f = check(&no_length, &Limits::default());
    assert!(f.reasons.is_empty(), "{:?}", f.reasons);
    assert!(f.notes.iter().any(|n| n.code == ReasonCode::PdfRepaired));
}

/// A page drawing one image of `width`×`height` with `color_space` and `bits`, whose data is
/// `data` behind `filter` (none when empty).
fn pdf_with_image(
    width: i64,
    height: i64,
    color_space: &str,
    bits: i64,
    filter: &str,
    data: Vec<u8>,
) -> Vec<u8> {
    pdf_with(|doc, _, page| {
        let mut dict = dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => width, "Height" => height,
            "ColorSpace" => color_space, "BitsPerComponent" => bits,
        };
        if !filter.is_empty() {
            dict.set("Filter", Object::Name(filter.as_bytes().to_vec()));
        }
        let img = doc.add_object(Stream::new(dict, data));
        set_in(
            doc,
            page,
            "Resources",
            Object::Dictionary(dictionary! { "XObject" => dictionary! { "Im0" => img } }),
        );
    })
}

#[test]
fn images_of_pdfs_are_judged_by_their_decoded_bytes_and_a_pixel_ceiling() {
    // A 300 dpi colour scan of 9000x9000 (243 MB decoded) and a 1-bit CCITT-sized page of
    // 9258x12259 (113 Mpx, 14 MB decoded): large-format documents, accepted.
    let rgb = pdf_with_image(9000, 9000, "DeviceRGB", 8, "", vec![0; 16]);
    assert!(!codes(&rgb).contains(&ReasonCode::ImageTooLarge));
    let bilevel =
        miniz_oxide::deflate::compress_to_vec_zlib(&vec![0; 9258_usize.div_ceil(8) * 12259], 1);
    let fax = pdf_with_image(9258, 12259, "DeviceGray", 1, "FlateDecode", bilevel);
    assert!(codes(&fax).is_empty(), "{:?}", codes(&fax));
    // 40000x40000 in colour decodes to 4.8 GB; 35000x35000 at one bit is 1.2 Gpx.
    let colour = pdf_with_image(39_000, 39_000, "DeviceRGB", 8, "", vec![0; 16]);
    assert_eq!(codes(&colour), vec![ReasonCode::ImageTooLarge]);
    let mono = pdf_with_image(35_000, 35_000, "DeviceGray", 1, "", vec![0; 16]);
    assert_eq!(codes(&mono), vec![ReasonCode::ImageTooLarge]);
}

#[test]
fn huge_objects_are_refused() {
    let nulls = pdf_with(|doc, catalog, _| {
        set_in(
            doc,
            catalog,
            "Nulls",
            Object::Array(vec![Object::Null; 100_001]),
        );
    });
    assert_eq!(codes(&nulls), vec![ReasonCode::PdfTooComplex]);
}

/// A page drawing the form XObject `Fm1` whose content is `form_content`; the form's resources
/// are the page's own (a shared resource dictionary, as many producers write).
fn pdf_with_shared_form(form_content: &[u8]) -> Vec<u8> {
    let form_content = form_content.to_vec();
    pdf_with(move |doc, _, page| {
        let resources = doc.new_object_id();
        let form = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                "Resources" => resources,
            },
            form_content,
        ));
        doc.objects.insert(
            resources,
            Object::Dictionary(dictionary! { "XObject" => dictionary! { "Fm1" => form } }),
        );
        set_in(doc, page, "Resources", resources.into());
    })
}

#[test]
fn a_form_that_draws_itself_is_refused() {
    let c = codes(&pdf_with_shared_form(b"q /Fm1 Do Q"));
    assert_eq!(c, vec![ReasonCode::PdfStructure]);
}

#[test]
fn a_form_that_only_lists_itself_in_shared_resources_passes() {
    let c = codes(&pdf_with_shared_form(b"0 0 m 10 10 l S"));
    assert!(c.is_empty(), "{c:?}");
}

/// A page with one image XObject of the given declared size and JPEG data.
fn pdf_with_jpeg(width: i64, height: i64, data: Vec<u8>) -> Vec<u8> {
    pdf_with(move |doc, _, page| {
        let image = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => width,
                "Height" => height,
                "ColorSpace" => "DeviceGray",
                "BitsPerComponent" => 8,
                "Filter" => "DCTDecode",
            },
            data,
        ));
        let resources = dictionary! { "XObject" => dictionary! { "Im1" => image } };
        set_in(doc, page, "Resources", Object::Dictionary(resources));
    })
}

fn gray_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::GrayImage::from_pixel(width, height, image::Luma([128]))
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encoding to memory");
    out.into_inner()
}

#[test]
fn jpeg_images_are_read_from_their_own_header() {
    assert!(codes(&pdf_with_jpeg(16, 16, gray_jpeg(16, 16))).is_empty());

    let not_jpeg = pdf_with_jpeg(16, 16, b"wwwwwwwwww not a JPEG at all".to_vec());
    assert_eq!(codes(&not_jpeg), vec![ReasonCode::PdfContentUnreadable]);

    // Declared 1x1, but readers decode the 64x64 the JPEG header gives.
    let limits = Limits {
        max_pdf_image_pixels: 1_000,
        ..Limits::default()
    };
    let understated = pdf_with_jpeg(1, 1, gray_jpeg(64, 64));
    let reasons: Vec<ReasonCode> = check(&understated, &limits)
        .reasons
        .iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(reasons, vec![ReasonCode::ImageTooLarge]);
}

/// A page drawing the first of `levels` forms, each of which draws the next `fan` times.
fn pdf_with_nested_forms(levels: usize, fan: usize) -> Vec<u8> {
    pdf_with(move |doc, _, page| {
        let mut next: Option<ObjectId> = None;
        for _ in 0..levels {
            let (content, resources) = match next {
                Some(inner) => (
                    b"/Fm Do ".repeat(fan),
                    dictionary! { "XObject" => dictionary! { "Fm" => inner } },
                ),
                None => (b"0 0 1 1 re f".to_vec(), dictionary! {}),
            };
            next = Some(doc.add_object(Stream::new(
                dictionary! {
                    "Type" => "XObject",
                    "Subtype" => "Form",
                    "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                    "Resources" => resources,
                },
                content,
            )));
        }
        let first = next.expect("at least one level");
        let content = doc.add_object(Stream::new(dictionary! {}, b"q /Fm Do Q".to_vec()));
        set_in(doc, page, "Contents", content.into());
        set_in(
            doc,
            page,
            "Resources",
            Object::Dictionary(dictionary! { "XObject" => dictionary! { "Fm" => first } }),
        );
    })
}

#[test]
fn forms_drawn_within_each_other_beyond_the_limit_are_refused() {
    // 10^3 drawings: a tiled background, a repeated symbol.
    assert_eq!(codes(&pdf_with_nested_forms(4, 10)), vec![]);
    // 10^8: each level multiplies what the one above draws.
    let f = check(&pdf_with_nested_forms(9, 10), &Limits::default());
    assert_eq!(f.reasons.len(), 1, "{:?}", f.reasons);
    assert_eq!(f.reasons[0].code, ReasonCode::PdfTooComplex);
    let detail = f.reasons[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("drawings"), "{detail}");
}
