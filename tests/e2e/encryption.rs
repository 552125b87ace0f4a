//! Encryption at rest, end to end, on both backends: with keys configured no stored object
//! (documents, pictures of pages, data keys, the marker) holds the documents' plaintext,
//! downloads are byte-identical, `guichet keys rotate` lets the old key go, a start without
//! the keys is refused by key id, and an altered object is never served as content.

use std::path::PathBuf;

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, dictionary};
use serde_json::{Value, json};

use crate::common::{Backend, Server, error_code, open_campaign};

on_every_backend!(documents_are_sealed_rotated_and_refused_without_their_keys);

const MARKER: &str = "PLAINTEXT-MARKER-guichet-0b7e";

/// The `GUICHET_ENCRYPTION_KEYS` of these ids, each a key of 32 times one byte (1, 2 or 9).
fn keys(entries: &[(&str, u8)]) -> Vec<(String, String)> {
    let list: Vec<String> = entries
        .iter()
        .map(|(id, byte)| {
            let key = match byte {
                1 => "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
                2 => "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
                9 => "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
                _ => unreachable!("keys of the test"),
            };
            format!("{id}:{key}")
        })
        .collect();
    vec![("GUICHET_ENCRYPTION_KEYS".to_string(), list.join(","))]
}

async fn documents_are_sealed_rotated_and_refused_without_their_keys(backend: Backend) {
    let mut server = Server::start_on_with_env(backend, keys(&[("k1", 1)])).await;
    server.load_campaign(&open_campaign("chiffre")).await;
    server
        .create_dossier(
            "chiffre",
            "E-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false}),
        )
        .await;
    // Small documents (one chunk) and a larger one (several).
    let mut documents = Vec::new();
    for (piece, lines) in [("identite", 3), ("jdc", 3), ("dossier_scanne", 6000)] {
        let pdf = marked_pdf(piece, lines);
        let answer = server
            .upload("E-1", piece, &format!("{piece}.pdf"), pdf.clone())
            .await;
        assert_eq!(answer.status(), 201, "{piece}");
        let answer: Value = answer.json().await.expect("json");
        documents.push((answer, pdf));
    }
    assert!(documents[2].1.len() > 200_000, "several chunks");

    let raw = Raw::of(&server).await;
    let stored = raw.paths().await;
    assert!(
        stored.iter().filter(|p| p.starts_with("sha256/")).count() >= 3,
        "{stored:?}"
    );
    assert!(stored.iter().any(|p| p.starts_with("keys/")), "{stored:?}");
    for path in &stored {
        let bytes = raw.get(path).await;
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "{path} holds plaintext"
        );
    }
    for (answer, pdf) in &documents {
        assert_eq!(download(&server, answer).await, Ok(pdf.clone()));
    }
    let (_, out, _) = server.verify();
    assert!(!out.contains("corrupt"), "{out}");

    // A new key first, the old one kept to read; rotate; then the old key goes.
    server.kill();
    server.set_env(keys(&[("k2", 2), ("k1", 1)]));
    server.start_again();
    let pdf = marked_pdf("identite", 4);
    let answer = server
        .upload("E-1", "identite", "second.pdf", pdf.clone())
        .await;
    assert_eq!(answer.status(), 201);
    documents.push((answer.json().await.expect("json"), pdf));
    let (code, out, err) = server.command(&["keys", "rotate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("wrapped again under k2"), "{out}");
    server.kill();
    server.set_env(keys(&[("k2", 2)]));
    server.start_again();
    for (answer, pdf) in &documents {
        assert_eq!(download(&server, answer).await, Ok(pdf.clone()));
    }

    // Without the keys, or without the current one, nothing starts; and says which key.
    server.kill();
    server.set_env(Vec::new());
    let (code, err) = server.refused_start();
    assert_ne!(code, 0);
    assert!(
        err.contains("\"k2\"") && err.contains("GUICHET_ENCRYPTION_KEYS"),
        "{err}"
    );
    server.set_env(keys(&[("k1", 1)]));
    let (code, err) = server.refused_start();
    assert_ne!(code, 0);
    assert!(err.contains("\"k2\" is not configured"), "{err}");
    server.set_env(keys(&[("k2", 9)]));
    let (_, err) = server.refused_start();
    assert!(
        err.contains("\"k2\" is not the key"),
        "a wrong key under the right id: {err}"
    );

    // A flipped byte: the download fails (never a 200 with other bytes), verify names it.
    server.set_env(keys(&[("k2", 2)]));
    server.start_again();
    let mut altered = Vec::new();
    for (at, (answer, _)) in [(100, &documents[0]), (150_000, &documents[2])] {
        let sha = answer["sha256"].as_str().expect("sha256").to_string();
        let path = format!("sha256/{}/{sha}", &sha[..2]);
        let mut bytes = raw.get(&path).await;
        bytes[at] ^= 0x01;
        raw.put(&path, bytes).await;
        altered.push(path);
    }
    let response = server
        .get(&content_path(&documents[0].0), &server.tokens.staff)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 500);
    assert_eq!(error_code(response).await, "content_corrupt");
    let large = download(&server, &documents[2].0).await;
    assert!(
        large.is_err(),
        "the altered chunk is never served: {large:?}"
    );
    let (code, out, _) = server.verify();
    assert_eq!(code, 1, "{out}");
    for path in &altered {
        assert!(out.contains(&format!("corrupt  {path}")), "{out}");
    }
    // Sound objects still read.
    assert_eq!(
        download(&server, &documents[1].0).await,
        Ok(documents[1].1.clone())
    );
}

fn content_path(answer: &Value) -> String {
    format!(
        "/api/v1/documents/{}/content",
        answer["id"].as_str().expect("id")
    )
}

/// A document's bytes, or why they could not all be had (a status, or a broken body).
async fn download(server: &Server, answer: &Value) -> Result<Vec<u8>, String> {
    let response = server
        .get(&content_path(answer), &server.tokens.staff)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("body: {e}"))
}

/// A born-digital PDF whose page text carries [`MARKER`] on `lines` lines (uncompressed: the
/// marker is in the file's bytes).
fn marked_pdf(title: &str, lines: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 6.into()]),
        Operation::new("Td", vec![20.into(), 800.into()]),
    ];
    for line in 0..lines {
        operations.push(Operation::new(
            "Tj",
            vec![Object::string_literal(format!("{MARKER} {title} {line}"))],
        ));
        operations.push(Operation::new("Td", vec![0.into(), (-0.1).into()]));
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations };
    crate::common::a4_pdf(
        doc,
        content.encode().expect("content encodes"),
        dictionary! { "Font" => dictionary! { "F1" => font_id } },
    )
}

/// A server's object store seen directly: its directory, or its bucket prefix.
pub enum Raw {
    Fs(PathBuf),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

impl Raw {
    pub async fn of(server: &Server) -> Raw {
        let Some(config) = &server.config else {
            return Raw::Fs(server.data.path().join("objects"));
        };
        let text = std::fs::read_to_string(config).expect("config");
        let prefix = text
            .lines()
            .find_map(|l| l.strip_prefix("prefix = "))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default();
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(var("GUICHET_TEST_S3_REGION")))
            .endpoint_url(var("GUICHET_TEST_S3_ENDPOINT"))
            .load()
            .await;
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(true)
                .build(),
        );
        Raw::S3 {
            client,
            bucket: var("GUICHET_TEST_S3_BUCKET"),
            prefix,
        }
    }

    /// Every object's path, sorted (temporary files of the filesystem store aside).
    pub async fn paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        match self {
            Raw::Fs(root) => {
                let mut pending = vec![root.clone()];
                while let Some(dir) = pending.pop() {
                    for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            pending.push(path);
                        } else {
                            let relative = path.strip_prefix(root).expect("under the root");
                            paths.push(relative.to_string_lossy().into_owned());
                        }
                    }
                }
                paths.retain(|p| !p.starts_with(".tmp/"));
            }
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    for object in page.expect("listing").contents() {
                        if let Some(path) = object.key().and_then(|k| k.strip_prefix(prefix)) {
                            paths.push(path.to_string());
                        }
                    }
                }
            }
        }
        paths.sort();
        paths
    }

    pub async fn get(&self, path: &str) -> Vec<u8> {
        match self {
            Raw::Fs(root) => std::fs::read(root.join(path)).expect("read object"),
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => client
                .get_object()
                .bucket(bucket)
                .key(format!("{prefix}{path}"))
                .send()
                .await
                .expect("get object")
                .body
                .collect()
                .await
                .expect("body")
                .to_vec(),
        }
    }

    /// [`Raw::put`], creating the object's folder on the filesystem.
    pub async fn put_creating(&self, path: &str, bytes: Vec<u8>) {
        if let Raw::Fs(root) = self {
            let parent = root.join(path);
            std::fs::create_dir_all(parent.parent().expect("a parent")).expect("mkdir");
        }
        self.put(path, bytes).await;
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) {
        match self {
            Raw::Fs(root) => std::fs::write(root.join(path), bytes).expect("write object"),
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{path}"))
                    .body(bytes.into())
                    .send()
                    .await
                    .expect("put object");
            }
        }
    }
}
