//! `guichet validate`: verdicts on local files, exit status, JSON lines.

use crate::common::{guichet, repo_root};
use serde_json::Value;

fn path(relative: &str) -> String {
    repo_root().join(relative).display().to_string()
}

#[test]
fn accepted_files_exit_0_and_write_one_json_line_each() {
    let files = [
        path("samples/documents/carte-identite.pdf"),
        path("samples/documents/carte-identite-recto.jpg"),
    ];
    let (code, out, err) = guichet(&["validate", "--json", &files[0], &files[1]]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["path"], files[0]);
    assert_eq!(lines[0]["kind"], "pdf");
    assert_eq!(lines[0]["verdict"], "accepted");
    assert_eq!(lines[0]["pages"], 1);
    assert_eq!(
        lines[0]["size"],
        std::fs::metadata(&files[0]).expect("size").len()
    );
    assert_eq!(lines[0]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(lines[1]["kind"], "jpeg");
}

#[test]
fn a_rejected_file_exits_1_with_its_reason() {
    let (code, out, _) = guichet(&[
        "validate",
        "--json",
        &path("samples/documents/faux-pdf.pdf"),
    ]);
    assert_eq!(code, 1);
    let line: Value = serde_json::from_str(out.trim()).expect("a JSON line");
    assert_eq!(line["kind"], "png");
    assert_eq!(line["verdict"], "rejected");
    assert_eq!(line["reasons"][0]["code"], "kind_mismatch");
}

#[test]
fn a_piece_of_a_campaign_applies_its_kinds() {
    let (code, out, _) = guichet(&[
        "validate",
        "--json",
        "--campaign",
        &path("samples/campaigns/cap-2025-poitiers.toml"),
        "--piece",
        "avis_medical",
        &path("samples/documents/carte-identite-recto.jpg"),
    ]);
    assert_eq!(code, 1);
    let line: Value = serde_json::from_str(out.trim()).expect("a JSON line");
    assert_eq!(line["reasons"][0]["code"], "kind_not_accepted");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(guichet(&["validate"]).0, 2);
    assert_eq!(guichet(&["validate", "/nonexistent/file.pdf"]).0, 2);
    let (code, _, err) = guichet(&[
        "validate",
        "--campaign",
        &path("samples/campaigns/cap-2025-poitiers.toml"),
        "--piece",
        "nope",
        &path("samples/documents/carte-identite.pdf"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no piece"), "{err}");
}
