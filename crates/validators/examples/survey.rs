// Temporary debugging aid (to be removed).
use lopdf::{Document, LoadOptions, Object};
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let lenient = Document::load_mem(&bytes);
        let strict = Document::load_mem_with_options(
            &bytes,
            LoadOptions {
                strict: true,
                ..Default::default()
            },
        );
        let Ok(doc) = lenient else {
            println!("{path}: lenient ERR");
            continue;
        };
        let nolen = doc
            .objects
            .values()
            .filter(|o| matches!(o, Object::Stream(s) if !s.dict.has(b"Length")))
            .count();
        let mut big = vec![];
        for o in doc.objects.values() {
            if let Object::Stream(s) = o {
                if s.dict.get(b"Subtype").ok().and_then(|n| n.as_name().ok()) == Some(b"Image") {
                    let w = s
                        .dict
                        .get(b"Width")
                        .ok()
                        .and_then(|v| v.as_i64().ok())
                        .unwrap_or(0);
                    let h = s
                        .dict
                        .get(b"Height")
                        .ok()
                        .and_then(|v| v.as_i64().ok())
                        .unwrap_or(0);
                    let f = s
                        .dict
                        .get(b"Filter")
                        .map(|f| format!("{f:?}"))
                        .unwrap_or_default();
                    big.push((w * h, w, h, s.content.len(), f));
                }
            }
        }
        big.sort();
        let top = big.last();
        println!(
            "{path}: recovery={:?} strict={} nolen={nolen} n={} topimg={:?}",
            doc.xref_recovery,
            strict
                .as_ref()
                .map(|_| "ok".to_string())
                .unwrap_or_else(|e| e.to_string()),
            doc.objects.len(),
            top
        );
    }
}
