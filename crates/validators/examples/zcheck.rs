// Temporary debugging aid (to be removed).
use lopdf::{Document, Object, content::Content};
use std::io::Read;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).unwrap();
    let doc = Document::load_mem(&bytes).unwrap();
    for (id, o) in &doc.objects {
        let Object::Stream(s) = o else { continue };
        if s.dict.has(b"Subtype") || s.dict.has(b"Type") {
            continue;
        }
        let mut out = Vec::new();
        let strict = flate2::read::ZlibDecoder::new(&s.content[..]).read_to_end(&mut out);
        if strict.is_ok() {
            continue;
        }
        let mut raw = Vec::new();
        let r = flate2::read::DeflateDecoder::new(&s.content[2.min(s.content.len())..])
            .read_to_end(&mut raw);
        let parsed = Content::decode_strict(&raw).map(|c| c.operations.len());
        let lenient = Content::decode(&raw).map(|c| c.operations.len());
        std::fs::write(format!("/tmp/raw_{}.bin", id.0), &raw).ok();
        println!(
            "{id:?} strict={:?} raw={:?} rawlen={} strictparse={:?} lenientparse={:?}",
            strict.err().map(|e| e.to_string()),
            r.as_ref().err().map(|e| e.to_string()),
            raw.len(),
            parsed.as_ref().err(),
            lenient.as_ref().ok()
        );
    }
}
