//! The mailroom's batch reader: `scanners::batch::read` on a scanned batch (PDF or multi-page
//! TIFF) with the default limits, then `split` and `segment_pdf` on every group of pages the
//! service would rebuild. Seeded with the corpus's scans and small generated batches whose
//! sheets are signed with the target's secret. The body and its checks: fuzz/src/batch.rs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: guichet_fuzz::init(), |data: &[u8]| guichet_fuzz::batch::run_read_batch(data));
