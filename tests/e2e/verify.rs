//! `guichet verify` finds objects changed or lost behind guichet's back, by key.

use crate::common::{Backend, Server, open_campaign, sample};
use serde_json::{Value, json};

on_every_backend!(verify_reports_corrupt_missing_and_orphaned_objects_by_key);

async fn verify_reports_corrupt_missing_and_orphaned_objects_by_key(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("verify")).await;
    server
        .create_dossier(
            "verify",
            "V-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false}),
        )
        .await;
    let mut stored = Vec::new();
    for (piece, name) in [
        ("identite", "carte-identite.pdf"),
        ("jdc", "attestation-jdc.pdf"),
    ] {
        let answer: Value = server
            .upload("V-1", piece, name, sample(name))
            .await
            .json()
            .await
            .expect("json");
        stored.push(answer["sha256"].as_str().expect("sha256").to_string());
    }

    let (code, out, err) = server.verify();
    assert_eq!(code, 0, "a sound store: {out}{err}");
    assert!(
        out.contains("2 objects checked, 2 referenced by documents, 0 finding(s)"),
        "{out}"
    );

    let (corrupt, missing) = (&stored[0], &stored[1]);
    server
        .tamper(corrupt, Some(b"%PDF-1.4 not what was stored"))
        .await;
    server.tamper(missing, None).await;
    let orphan = b"%PDF-1.4 stored by a crashed intake, never recorded";
    let orphan_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(orphan));
    server.tamper(&orphan_sha, Some(orphan)).await;
    let (code, out, _) = server.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "orphaned sha256/{}/{orphan_sha}",
            &orphan_sha[..2]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("corrupt  sha256/{}/{corrupt}", &corrupt[..2])),
        "{out}"
    );
    assert!(
        out.contains(&format!("missing  sha256/{}/{missing}", &missing[..2])),
        "{out}"
    );
}
