//! The architecture as `cargo metadata` reads it: the crates sit at the repository root, named
//! for the pipeline, and the arrows between them run one way (see the README's crate table).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn metadata() -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata answers JSON")
}

fn package<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

/// The package's direct dependencies, build and dev ones included.
fn dependencies(metadata: &Value, name: &str) -> BTreeSet<String> {
    package(metadata, name)["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_crates_sit_at_the_root_named_for_the_pipeline() {
    let metadata = metadata();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in [
        "dossiers",
        "validators",
        "storage",
        "ingest",
        "scanners",
        "api",
        "review",
        "previews",
    ] {
        let manifest = package(&metadata, name)["manifest_path"]
            .as_str()
            .expect("manifest_path");
        assert_eq!(
            Path::new(manifest),
            root.join(name).join("Cargo.toml"),
            "{name} sits at the root"
        );
    }
    assert!(!root.join("crates").exists(), "no crates/ folder remains");
}

#[test]
fn the_arrows_run_one_way() {
    let metadata = metadata();
    let ingest = dependencies(&metadata, "ingest");
    for http in ["axum", "hyper", "tower-http", "utoipa", "api", "review"] {
        assert!(!ingest.contains(http), "ingest depends on {http}");
    }
    let review = dependencies(&metadata, "review");
    assert!(review.contains("ingest"), "review works on top of ingest");
    assert!(!review.contains("api"), "review does not depend on api");
    for pure in ["dossiers", "validators", "scanners", "previews"] {
        let deps = dependencies(&metadata, pure);
        for io in [
            "sqlx",
            "aws-sdk-s3",
            "axum",
            "storage",
            "ingest",
            "api",
            "review",
        ] {
            assert!(!deps.contains(io), "{pure} depends on {io}");
        }
    }
    let storage = dependencies(&metadata, "storage");
    for above in ["ingest", "api", "review", "axum"] {
        assert!(!storage.contains(above), "storage depends on {above}");
    }
}
