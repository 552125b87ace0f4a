//! The first page of a scanned PDF as a picture: when that page draws exactly one image and
//! the image is a JPEG (DCTDecode), its bytes are the page as scanned, shown as a thumbnail
//! without running a PDF renderer. Any other PDF has no such picture (`None`).

use lopdf::{Document, Object};

/// PDFs larger than this are not opened for a thumbnail (the viewer still shows them).
pub const MAX_PDF_BYTES: usize = 32 * 1024 * 1024;

pub fn first_page_jpeg(pdf: &[u8]) -> Option<Vec<u8>> {
    let document = Document::load_mem(pdf).ok()?;
    let (_, page) = document.get_pages().into_iter().next()?;
    let (resources, inherited) = document.get_page_resources(page).ok()?;
    let dictionaries = resources.into_iter().chain(
        inherited
            .iter()
            .filter_map(|id| document.get_dictionary(*id).ok()),
    );
    let mut images = Vec::new();
    for dictionary in dictionaries {
        let Ok(xobjects) = dictionary.get(b"XObject") else {
            continue;
        };
        let (_, xobjects) = document.dereference(xobjects).ok()?;
        for (_, object) in xobjects.as_dict().ok()? {
            images.push(document.dereference(object).ok()?.1);
        }
    }
    let [Object::Stream(stream)] = images.as_slice() else {
        return None;
    };
    let subtype = stream.dict.get(b"Subtype").and_then(Object::as_name).ok()?;
    let filter = match stream.dict.get(b"Filter").ok()? {
        Object::Name(name) => name.clone(),
        Object::Array(filters) if filters.len() == 1 => filters[0].as_name().ok()?.to_vec(),
        _ => return None,
    };
    let jpeg =
        subtype == b"Image" && filter == b"DCTDecode" && stream.content.starts_with(&[0xFF, 0xD8]);
    jpeg.then(|| stream.content.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Dictionary, Stream, dictionary};

    /// A one-page PDF drawing `xobjects` images with `filter`.
    fn pdf(filter: &str, xobjects: usize) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let mut names = Dictionary::new();
        for i in 0..xobjects {
            let image = Stream::new(
                dictionary! {"Type" => "XObject", "Subtype" => "Image", "Width" => 1,
                "Height" => 1, "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
                "Filter" => filter},
                vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9],
            );
            names.set(format!("Im{i}"), doc.add_object(image));
        }
        let content = doc.add_object(Stream::new(
            dictionary! {},
            b"q 1 0 0 1 0 0 cm /Im0 Do Q".to_vec(),
        ));
        let page = doc.add_object(dictionary! {"Type" => "Page", "Parent" => pages_id,
        "Contents" => content, "Resources" => dictionary! {"XObject" => names}});
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
            ),
        );
        let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
        doc.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).expect("saved");
        bytes
    }

    #[test]
    fn a_page_of_one_jpeg_is_that_jpeg() {
        let jpeg = first_page_jpeg(&pdf("DCTDecode", 1)).expect("a picture");
        assert_eq!(jpeg, [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9]);
    }

    #[test]
    fn other_pages_have_no_picture() {
        assert_eq!(first_page_jpeg(&pdf("FlateDecode", 1)), None);
        assert_eq!(first_page_jpeg(&pdf("DCTDecode", 2)), None);
        assert_eq!(first_page_jpeg(&pdf("DCTDecode", 0)), None);
        assert_eq!(first_page_jpeg(b"not a pdf"), None);
    }
}
