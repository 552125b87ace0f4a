// Temporary debugging aid (to be removed).
use lopdf::{Document, LoadOptions, Object};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).unwrap();
    let strict = args.get(2).map(|s| s == "strict").unwrap_or(false);
    let opts = LoadOptions {
        strict,
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(&bytes, opts) {
        Ok(d) => d,
        Err(e) => {
            println!("ERR {e:?}");
            return;
        }
    };
    println!(
        "objects {} recovery {:?} trailer {:?}",
        doc.objects.len(),
        doc.xref_recovery,
        doc.trailer
    );
    let ids: Vec<(u32, u16)> = args
        .iter()
        .skip(3)
        .map(|a| {
            let n: u32 = a.parse().unwrap();
            (n, 0)
        })
        .collect();
    for (id, o) in &doc.objects {
        if !ids.is_empty() && !ids.contains(id) {
            continue;
        }
        match o {
            Object::Stream(s) => {
                println!("{id:?} STREAM {:?} len {}", s.dict, s.content.len());
                if !ids.is_empty() {
                    let d = s.decompressed_content().unwrap_or_default();
                    println!("{}", String::from_utf8_lossy(&d[..d.len().min(2000)]));
                }
            }
            other => println!("{id:?} {:?}", other),
        }
    }
}
