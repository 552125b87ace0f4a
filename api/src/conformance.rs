//! Answers checked against the OpenAPI document. Real answers of every route, and views built
//! to show every optional field, must validate against the schema the document gives them;
//! a property sent but not declared is an error too, and every property a response schema
//! declares must be sent by one of them. A schema stricter or looser than the answers fails
//! here rather than in a client (or in schemathesis, which checks answers the same way).
//!
//! The validator knows the part of JSON Schema that utoipa writes for answers; a keyword it
//! does not know fails the test instead of being skipped.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use dossiers::Candidate;
use ingest::auth::Role;
use ingest::pipeline::dossier::Snapshot;
use ingest::pipeline::{render, scan};
use storage::repository::{BatchRecord, DeliveryRecord, SameContent, WebhookRecord};
use storage::{DocumentRecord, DossierRecord, EventRecord};

use crate::testing::{Answer, TestApi};
use crate::views;

/// Keywords that describe and constrain nothing.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
    "contentMediaType",
];

/// The document as served, as JSON.
fn document() -> Value {
    serde_json::to_value(crate::routes().into_openapi()).expect("the document serialises")
}

/// `~` and `/` escaped, as in a JSON pointer.
fn escaped(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[derive(Default)]
struct Outcome {
    errors: Vec<String>,
    /// `<schema pointer>/properties/<name>` of every declared property met.
    seen: BTreeSet<String>,
}

impl Outcome {
    fn fail(&mut self, path: &str, message: impl std::fmt::Display) {
        self.errors.push(format!("{path}: {message}"));
    }

    fn take(&mut self, other: Outcome) {
        self.errors.extend(other.errors);
        self.seen.extend(other.seen);
    }
}

struct Validator<'d> {
    doc: &'d Value,
}

impl<'d> Validator<'d> {
    /// The schema a `$ref` names, and its pointer.
    fn target(&self, reference: &str) -> (&'d Value, String) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are written: {reference}"));
        let schema = self
            .doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
        (schema, reference.to_string())
    }

    /// The property names `schema` declares, through references and `allOf`.
    fn declared(&self, schema: &'d Value) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            names.extend(self.declared(self.target(reference).0));
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            names.extend(self.declared(part));
        }
        names
    }

    /// Checks `value` (at `path` in the answer) against `schema` (at `at` in the document).
    /// `declared_beside` are properties that another part of an `allOf` declares.
    fn check(
        &self,
        schema: &'d Value,
        at: &str,
        value: &Value,
        path: &str,
        declared_beside: &BTreeSet<String>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let Some(keywords) = schema.as_object() else {
            outcome.fail(path, format!("{at} is not a schema"));
            return outcome;
        };
        for (keyword, argument) in keywords {
            match keyword.as_str() {
                "$ref" => {
                    let (target, pointer) = self.target(argument.as_str().unwrap_or_default());
                    outcome.take(self.check(target, &pointer, value, path, declared_beside));
                }
                "type" => {
                    let types: Vec<&str> = match argument {
                        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
                        other => other.as_str().into_iter().collect(),
                    };
                    if !types.iter().any(|t| is_of_type(value, t)) {
                        outcome.fail(path, format!("{value} is not {types:?} ({at})"));
                    }
                }
                "enum" => {
                    let listed = argument.as_array().is_some_and(|l| l.contains(value));
                    if !listed {
                        outcome.fail(path, format!("{value} is not one of {argument} ({at})"));
                    }
                }
                "format" => {
                    if let Some(why) = misformatted(value, argument.as_str().unwrap_or_default()) {
                        outcome.fail(path, format!("{value}: {why} ({at})"));
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(n), Some(bound)) = (value.as_f64(), argument.as_f64()) {
                        let within = if keyword == "minimum" {
                            n >= bound
                        } else {
                            n <= bound
                        };
                        if !within {
                            outcome.fail(path, format!("{n} is beyond {keyword} {bound} ({at})"));
                        }
                    }
                }
                "required" => {
                    for name in argument.as_array().into_iter().flatten() {
                        let name = name.as_str().unwrap_or_default();
                        if value.as_object().is_some_and(|o| !o.contains_key(name)) {
                            outcome.fail(path, format!("required `{name}` is missing ({at})"));
                        }
                    }
                }
                "properties" => {
                    let (Some(properties), Some(object)) =
                        (argument.as_object(), value.as_object())
                    else {
                        continue;
                    };
                    for (name, property) in properties {
                        if let Some(field) = object.get(name) {
                            let pointer = format!("{at}/properties/{}", escaped(name));
                            outcome.seen.insert(pointer.clone());
                            let inner = format!("{path}.{name}");
                            outcome.take(self.check(
                                property,
                                &pointer,
                                field,
                                &inner,
                                &BTreeSet::new(),
                            ));
                        }
                    }
                }
                "additionalProperties" => {
                    // Checked with `properties` below, for the keys neither declares.
                }
                "items" => {
                    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                        let inner = format!("{path}[{i}]");
                        let pointer = format!("{at}/items");
                        outcome.take(self.check(
                            argument,
                            &pointer,
                            item,
                            &inner,
                            &BTreeSet::new(),
                        ));
                    }
                }
                "allOf" => {
                    let all: BTreeSet<String> = self
                        .declared(schema)
                        .into_iter()
                        .chain(declared_beside.iter().cloned())
                        .collect();
                    for (i, part) in argument.as_array().into_iter().flatten().enumerate() {
                        let pointer = format!("{at}/allOf/{i}");
                        outcome.take(self.check(part, &pointer, value, path, &all));
                    }
                }
                "oneOf" | "anyOf" => {
                    let mut matched: Vec<Outcome> = argument
                        .as_array()
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, part)| {
                            let pointer = format!("{at}/{keyword}/{i}");
                            self.check(part, &pointer, value, path, declared_beside)
                        })
                        .filter(|o| o.errors.is_empty())
                        .collect();
                    let fits = if keyword == "oneOf" {
                        matched.len() == 1
                    } else {
                        !matched.is_empty()
                    };
                    if fits {
                        for o in matched.drain(..) {
                            outcome.take(o);
                        }
                    } else {
                        outcome.fail(
                            path,
                            format!("{value} fits {} of {keyword} ({at})", matched.len()),
                        );
                    }
                }
                other if ANNOTATIONS.contains(&other) => {}
                other => panic!("{at}: the validator does not know `{other}`; teach it"),
            }
        }
        // A property the schema does not declare is drift: the schema says less than is sent.
        if let (Some(object), true) = (value.as_object(), keywords.contains_key("properties")) {
            let declared = self.declared(schema);
            for (name, field) in object {
                if declared.contains(name) || declared_beside.contains(name) {
                    continue;
                }
                match keywords.get("additionalProperties") {
                    Some(Value::Bool(true)) => {}
                    Some(extra @ Value::Object(_)) => {
                        let pointer = format!("{at}/additionalProperties");
                        let inner = format!("{path}.{name}");
                        outcome.take(self.check(extra, &pointer, field, &inner, &BTreeSet::new()));
                    }
                    _ => outcome.fail(path, format!("`{name}` is sent but not declared ({at})")),
                }
            }
        }
        outcome
    }
}

fn is_of_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type `{other}`"),
    }
}

/// Why `value` does not have `format`, if it does not.
fn misformatted(value: &Value, format: &str) -> Option<String> {
    let fits = match (format, value) {
        ("date-time", Value::String(text)) => DateTime::parse_from_rfc3339(text).is_ok(),
        ("date", Value::String(text)) => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        ("int32", Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        ("int64", Value::Number(n)) => n.is_i64(),
        ("uint16", Value::Number(n)) => n.as_u64().is_some_and(|n| u16::try_from(n).is_ok()),
        ("uint32", Value::Number(n)) => n.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
        ("uint64", Value::Number(n)) => n.is_u64(),
        ("binary", _) => true,
        // A value of another type is the `type` keyword's to refuse.
        ("date-time" | "date" | "int32" | "int64" | "uint16" | "uint32" | "uint64", _) => true,
        (other, _) => panic!("the validator does not know the format `{other}`; teach it"),
    };
    (!fits).then(|| format!("not a valid {format}"))
}

/// Every declared property of `schema` and of the schemas nested in it, as pointers, and the
/// components it references.
fn walk(schema: &Value, at: &str, properties: &mut BTreeSet<String>, refs: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else {
        return;
    };
    if let Some(reference) = keywords.get("$ref").and_then(Value::as_str) {
        refs.push(reference.to_string());
    }
    for (name, property) in keywords
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let pointer = format!("{at}/properties/{}", escaped(name));
        properties.insert(pointer.clone());
        walk(property, &pointer, properties, refs);
    }
    for keyword in ["items", "additionalProperties"] {
        if let Some(inner) = keywords.get(keyword) {
            walk(inner, &format!("{at}/{keyword}"), properties, refs);
        }
    }
    for keyword in ["allOf", "oneOf", "anyOf"] {
        for (i, part) in keywords
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk(part, &format!("{at}/{keyword}/{i}"), properties, refs);
        }
    }
}

/// Every property that a response schema declares, through the components it references.
fn response_properties(doc: &Value) -> BTreeSet<String> {
    let mut properties = BTreeSet::new();
    let mut refs = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    let at = format!(
                        "#/paths/{}/{method}/responses/{status}/content/{}/schema",
                        escaped(path),
                        escaped(media)
                    );
                    walk(&content["schema"], &at, &mut properties, &mut refs);
                }
            }
        }
    }
    let mut visited = BTreeSet::new();
    while let Some(reference) = refs.pop() {
        if visited.insert(reference.clone()) {
            let (schema, at) = Validator { doc }.target(&reference);
            walk(schema, &at, &mut properties, &mut refs);
        }
    }
    properties
}

/// What was checked so far, and what went wrong.
struct Conformance {
    doc: Value,
    outcome: Outcome,
    answers: usize,
}

impl Conformance {
    fn new() -> Conformance {
        Conformance {
            doc: document(),
            outcome: Outcome::default(),
            answers: 0,
        }
    }

    /// Checks a view against the component schema named `component`.
    fn view(&mut self, component: &str, view: &impl Serialize) {
        let value = serde_json::to_value(view).expect("a view serialises");
        let reference = format!("#/components/schemas/{component}");
        let validator = Validator { doc: &self.doc };
        let (schema, at) = validator.target(&reference);
        let outcome = validator.check(schema, &at, &value, component, &BTreeSet::new());
        self.outcome.take(outcome);
    }

    /// Checks an answer of the router against the response the document gives its operation
    /// and status, with the request that got it for context.
    fn answer(&mut self, method: &Method, path: &str, answer: &Answer) {
        self.answers += 1;
        let doc = &self.doc;
        let context = format!("{method} {path} -> {}", answer.status);
        let Some((template, operation)) = operation(doc, method, path) else {
            self.outcome.fail(&context, "no documented operation");
            return;
        };
        let response = &operation["responses"][answer.status.as_str()];
        if response.is_null() {
            self.outcome.fail(&context, "the status is not documented");
            return;
        }
        let media = answer
            .content_type()
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_string());
        let Some(media) = media else {
            if response.get("content").is_some() {
                self.outcome
                    .fail(&context, "documented with a body, sent none");
            }
            return;
        };
        // A documented range (`image/*`, `*/*`) covers the types in it, as in OpenAPI.
        let range = format!("{}/*", media.split('/').next().unwrap_or_default());
        let content = [media.as_str(), &range, "*/*"]
            .into_iter()
            .find_map(|key| response["content"].get(key));
        let Some(content) = content else {
            self.outcome
                .fail(&context, format!("{media} is not documented"));
            return;
        };
        if media != "application/json" {
            return;
        }
        let Some(schema) = content.get("schema") else {
            self.outcome
                .fail(&context, "a JSON answer without a schema");
            return;
        };
        let at = format!(
            "#/paths/{}/{}/responses/{}/content/application~1json/schema",
            escaped(&template),
            method.as_str().to_lowercase(),
            answer.status.as_str()
        );
        let validator = Validator { doc };
        let outcome = validator.check(schema, &at, &answer.json(), &context, &BTreeSet::new());
        self.outcome.take(outcome);
    }

    /// Fails with every error, and with every response property no answer or view sent.
    fn finish(self) {
        let unseen: Vec<String> = response_properties(&self.doc)
            .difference(&self.outcome.seen)
            .cloned()
            .collect();
        assert!(
            self.outcome.errors.is_empty() && unseen.is_empty(),
            "answers that do not fit their schemas:\n{}\n\ndeclared but never sent:\n{}",
            self.outcome.errors.join("\n"),
            unseen.join("\n")
        );
    }
}

/// The documented operation that serves `method` on `path`, with its path template.
fn operation<'d>(doc: &'d Value, method: &Method, path: &str) -> Option<(String, &'d Value)> {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        .and_then(|(template, item)| {
            let operation = item.get(method.as_str().to_lowercase())?;
            Some((template.clone(), operation))
        })
}

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/../samples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_body(value: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

/// Drives every route through the router, as each role would, and checks every answer.
#[tokio::test]
async fn real_answers_fit_their_schemas() {
    let api = TestApi::start().await;
    let mut check = Conformance::new();
    let mut call =
        async |method: Method, path: &str, role: Option<Role>, body: Option<(&str, Vec<u8>)>| {
            let answer = api.call(method.clone(), path, role, body).await;
            check.answer(&method, path, &answer);
            answer
        };
    let (portal, station, staff, admin) = (
        Some(Role::Portal),
        Some(Role::Station),
        Some(Role::Staff),
        Some(Role::Admin),
    );

    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        assert_eq!(
            call(Method::GET, path, None, None).await.status,
            StatusCode::OK
        );
    }
    let campaign = sample("campaigns/demonstration.toml");
    let loaded = call(
        Method::POST,
        "/api/v1/campaigns",
        admin,
        Some(("text/plain", campaign.clone())),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::CREATED);
    let poitiers = sample("campaigns/cap-2025-poitiers.toml");
    call(
        Method::POST,
        "/api/v1/campaigns",
        admin,
        Some(("text/plain", poitiers)),
    )
    .await;
    call(
        Method::GET,
        "/api/v1/campaigns/cap-2025-poitiers",
        portal,
        None,
    )
    .await;
    call(
        Method::POST,
        "/api/v1/campaigns",
        admin,
        Some(("text/plain", b"id = ".to_vec())),
    )
    .await;

    let new = json!({"campaign": "demonstration", "reference": "CONF-1",
        "candidate": {"birth_date": "2004-03-14", "nationality": "FR"}});
    let created = call(
        Method::POST,
        "/api/v1/dossiers",
        portal,
        json_body(new.clone()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let again = call(Method::POST, "/api/v1/dossiers", portal, json_body(new)).await;
    assert_eq!(again.status, StatusCode::OK);
    let pdf = sample("documents/carte-identite.pdf");
    let upload = "/api/v1/dossiers/CONF-1/pieces/identite/documents";
    let octets = "application/octet-stream";
    let filed = call(Method::POST, upload, portal, Some((octets, pdf.clone()))).await;
    assert_eq!(filed.status, StatusCode::CREATED);
    let identity = filed.json()["id"].as_str().expect("an id").to_string();
    call(Method::POST, upload, portal, Some((octets, pdf.clone()))).await;
    let text = b"plain text, not a document".to_vec();
    let refused = call(Method::POST, upload, portal, Some((octets, text))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let home = "/api/v1/dossiers/CONF-1/pieces/justificatif_domicile/documents";
    let bill = sample("documents/justificatif-domicile.pdf");
    call(Method::POST, home, portal, Some((octets, bill))).await;
    let recto = sample("documents/carte-identite-recto.png");
    let second = call(Method::POST, upload, portal, Some((octets, recto))).await;
    let recto_id = second.json()["id"].as_str().expect("an id").to_string();

    call(Method::GET, "/api/v1/dossiers/CONF-1", staff, None).await;
    call(Method::GET, "/api/v1/dossiers/CONF-1", station, None).await;
    call(Method::GET, "/api/v1/dossiers/NOPE", portal, None).await;
    let content = format!("/api/v1/documents/{identity}/content");
    assert_eq!(
        call(Method::GET, &content, staff, None).await.status,
        StatusCode::OK
    );
    let history = "/api/v1/dossiers/CONF-1/history";
    let journal = call(Method::GET, history, staff, None).await;
    assert_eq!(journal.status, StatusCode::OK);
    let last = journal.json()["entries"]
        .as_array()
        .and_then(|e| e.last().cloned())
        .expect("entries");
    assert_eq!(last["action"], "document.downloaded", "{last}");
    assert_eq!(last["actor"], "staff:test-staff", "{last}");
    assert_eq!(
        call(Method::GET, history, admin, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(Method::GET, history, portal, None).await.status,
        StatusCode::FORBIDDEN
    );
    let unknown = call(Method::GET, "/api/v1/dossiers/NOPE/history", staff, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "unknown_dossier");
    // No render worker runs here: the page's picture is not made yet.
    let page = format!("/api/v1/documents/{identity}/pages/1?width=200");
    let pending = call(Method::GET, &page, portal, None).await;
    assert_eq!(pending.status, StatusCode::ACCEPTED);
    assert_eq!(pending.json()["previews"], "pending");
    // A PDF has no display copy; a HEIC photo has one, a JPEG.
    let display = format!("/api/v1/documents/{identity}/display");
    assert_eq!(
        call(Method::GET, &display, staff, None).await.status,
        StatusCode::NOT_FOUND
    );
    let photos = b"id = \"conf-photos\"\ntitle = \"Photos\"\n\
        opens_at = \"2024-01-01T00:00:00Z\"\ncloses_at = \"2099-01-01T00:00:00Z\"\n\
        reference_date = \"2026-06-01\"\n\
        [[pieces]]\ncode = \"photo\"\nlabel = \"Photo\"\naccept = [\"heic\", \"avif\"]\n";
    call(
        Method::POST,
        "/api/v1/campaigns",
        admin,
        Some(("text/plain", photos.to_vec())),
    )
    .await;
    let photo_dossier = json!({"campaign": "conf-photos", "reference": "CONF-PHOTO",
        "candidate": {"birth_date": "2004-03-14", "nationality": "FR"}});
    call(
        Method::POST,
        "/api/v1/dossiers",
        portal,
        json_body(photo_dossier),
    )
    .await;
    let heic = std::fs::read(format!(
        "{}/../validators/tests/fixtures/heif/exif6_only.heic",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("the HEIC fixture");
    let photo_upload = "/api/v1/dossiers/CONF-PHOTO/pieces/photo/documents";
    let photo = call(Method::POST, photo_upload, portal, Some((octets, heic))).await;
    assert_eq!(photo.status, StatusCode::CREATED);
    assert_eq!(photo.json()["display"], true);
    let photo_id = photo.json()["id"].as_str().expect("an id").to_string();
    let shown = call(
        Method::GET,
        &format!("/api/v1/documents/{photo_id}/display"),
        portal,
        None,
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK);
    let review = format!("/api/v1/documents/{identity}/review");
    let reviewed = call(
        Method::POST,
        &review,
        staff,
        json_body(json!({"decision": "accept"})),
    )
    .await;
    assert_eq!(reviewed.status, StatusCode::OK);
    call(
        Method::POST,
        &review,
        staff,
        json_body(json!({"decision": "maybe"})),
    )
    .await;
    let withdraw = format!("/api/v1/dossiers/CONF-1/documents/{recto_id}");
    assert_eq!(
        call(Method::DELETE, &withdraw, portal, None).await.status,
        StatusCode::OK
    );
    call(Method::POST, "/api/v1/dossiers/CONF-1/submit", portal, None).await;
    let sheet = "/api/v1/dossiers/CONF-1/cover-sheet.pdf";
    assert_eq!(
        call(Method::GET, sheet, portal, None).await.status,
        StatusCode::OK
    );
    let separator = format!("{sheet}?piece=identite");
    call(Method::GET, &separator, staff, None).await;

    let batch = call(
        Method::POST,
        "/api/v1/mailroom/batches",
        station,
        Some((octets, pdf.clone())),
    )
    .await;
    assert_eq!(batch.status, StatusCode::ACCEPTED);
    let batch_id = batch.json()["id"].as_str().expect("an id").to_string();
    call(
        Method::POST,
        "/api/v1/mailroom/batches",
        station,
        Some((octets, pdf)),
    )
    .await;
    let batch = format!("/api/v1/mailroom/batches/{batch_id}");
    call(Method::GET, &batch, staff, None).await;

    let hooks = "/api/v1/campaigns/demonstration/webhooks";
    let hook = call(
        Method::POST,
        hooks,
        admin,
        json_body(json!({"url": "http://127.0.0.1:9/never"})),
    )
    .await;
    assert_eq!(hook.status, StatusCode::CREATED);
    let hook_id = hook.json()["id"].as_str().expect("an id").to_string();
    call(Method::GET, hooks, admin, None).await;
    let deliveries = format!("{hooks}/{hook_id}/deliveries?failed=true");
    call(Method::GET, &deliveries, admin, None).await;
    call(Method::GET, "/api/v1/events?after=0&limit=50", portal, None).await;
    call(Method::POST, "/api/v1/dossiers/CONF-1/close", staff, None).await;
    let deleted = call(Method::DELETE, &format!("{hooks}/{hook_id}"), admin, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    call(Method::GET, "/api/v1/campaigns/demonstration", None, None).await;
    call(Method::GET, "/api/v1/campaigns/nope", staff, None).await;
    for export in [
        "dossiers.csv",
        "dossiers.xlsx",
        "documents.csv",
        "documents.zip",
    ] {
        let path = format!("/api/v1/campaigns/demonstration/{export}");
        assert_eq!(
            call(Method::GET, &path, staff, None).await.status,
            StatusCode::OK
        );
        call(Method::GET, &path, portal, None).await;
        call(
            Method::GET,
            &format!("/api/v1/campaigns/nope/{export}"),
            admin,
            None,
        )
        .await;
    }

    assert!(check.answers > 30, "{} answers checked", check.answers);
    views_show_every_optional_field(&mut check);
    check.finish();
}

/// Records the service above does not produce: a mailroom document found infected and an
/// unclassified one in a dossier, settled deliveries, an event, a batch read and one that
/// failed.
struct Records {
    snapshot: Snapshot,
    infected: DocumentRecord,
    webhook: WebhookRecord,
    deliveries: Vec<DeliveryRecord>,
    event: EventRecord,
    batches: [BatchRecord; 2],
}

fn records() -> Records {
    let source = String::from_utf8(sample("campaigns/demonstration.toml")).expect("UTF-8");
    let campaign =
        Arc::new(dossiers::Campaign::parse(&source, "demonstration.toml").expect("it parses"));
    let at: DateTime<Utc> = "2026-03-01T09:30:00Z".parse().expect("a date-time");
    let infected = DocumentRecord {
        id: "doc-infected".into(),
        dossier: "CONF-2".into(),
        piece: Some("identite".into()),
        filename: Some("lot-1-pages-2-3.pdf".into()),
        declared_type: Some("application/pdf".into()),
        sha256: "ab".repeat(32),
        size: 1234,
        kind: "pdf".into(),
        mime: "application/pdf".into(),
        pages: Some(2),
        channel: "mailroom".into(),
        origin: json!({"channel": "mailroom", "batch": "b-1", "station": "test-station",
            "first_page": 2, "last_page": 3}),
        verdict: "rejected".into(),
        reasons: json!({"reasons": [scan::infected_reason("Eicar-Test-Signature")], "notes": []}),
        review: Some("rejected".into()),
        review_reason: Some("Document illisible".into()),
        reviewed_by: Some("staff".into()),
        reviewed_at: Some(at),
        withdrawn_at: None,
        late: true,
        received_at: at,
        scan: Some(scan::state::INFECTED.into()),
        scan_signature: Some("Eicar-Test-Signature".into()),
        display_sha256: None,
        purged_at: None,
        purge_rule: None,
    };
    let unclassified = DocumentRecord {
        id: "doc-unclassified".into(),
        piece: None,
        channel: "upload".into(),
        origin: json!({"channel": "upload"}),
        scan: None,
        scan_signature: None,
        purged_at: Some(at),
        purge_rule: Some("after_close P12M".into()),
        ..infected.clone()
    };
    let candidate = json!({"nationality": "FR"});
    let snapshot = Snapshot {
        record: DossierRecord {
            reference: "CONF-2".into(),
            campaign: campaign.id().into(),
            candidate: candidate.clone(),
            state: "open".into(),
            state_reason: Some("Pièce d'identité refusée".into()),
            corrections: json!({"identite": {"message": "Le verso manque.",
                "requested_at": "2026-03-02T10:00:00Z", "by": "staff:reviewer"}}),
            extension: Some(
                json!({"until": "2026-04-01T17:00:00Z", "reason": "Hospitalisation",
                "by": "staff:reviewer", "at": "2026-03-02T10:00:00Z"}),
            ),
            version: 3,
            created_at: at,
            updated_at: at,
        },
        documents: vec![infected.clone(), unclassified],
        candidate: Candidate::new(candidate, campaign.reference_date()).expect("a candidate"),
        campaign,
        state: dossiers::DossierState::Open,
    };
    let delivery = |state: &str, status: Option<u16>, error: Option<&str>| DeliveryRecord {
        webhook: "w-1".into(),
        event: 12,
        state: state.into(),
        attempts: 3,
        status,
        error: error.map(str::to_string),
        at,
    };
    let read = BatchRecord {
        id: "b-1".into(),
        station: "test-station".into(),
        filename: None,
        sha256: "cd".repeat(32),
        size: 4096,
        format: "pdf".into(),
        state: "done".into(),
        pages: Some(4),
        report: json!({
            "pages": [
                {"page": 1, "finding": "sheet", "ink": 0.1,
                 "sheet": {"dossier": "CONF-2", "piece": "identite"}},
                {"page": 2, "finding": "content", "ink": 0.3, "sheet": null},
                {"page": 3, "finding": "blank", "ink": 0.0, "sheet": null},
                {"page": 4, "finding": "content", "ink": 0.2, "sheet": null},
            ],
            "segments": [{"sheet_page": 1, "pages": [2, 4], "page_count": 3,
                          "dossier": "CONF-2", "piece": "identite", "document": "doc-infected",
                          "verdict": "rejected", "late": true, "reasons": []}],
            "unmatched": [],
        }),
        error: None,
        received_at: at,
        updated_at: at,
    };
    let failed = BatchRecord {
        state: "failed".into(),
        pages: None,
        report: json!({"error": {"code": "unreadable_batch", "message": "not a PDF"}}),
        error: Some("unreadable_batch".into()),
        ..read.clone()
    };
    Records {
        snapshot,
        infected,
        webhook: WebhookRecord {
            id: "w-1".into(),
            campaign: "demonstration".into(),
            url: "https://portal.example/hooks".into(),
            created_at: at,
            deleted_at: None,
            last_event: 12,
        },
        deliveries: vec![
            delivery("failed", Some(500), Some("HTTP 500")),
            delivery("delivered", Some(204), None),
            delivery("failed", None, Some("connection refused")),
        ],
        event: EventRecord {
            id: 7,
            kind: "document.received".into(),
            actor: Some("portal:inscriptions".into()),
            dossier: Some("CONF-2".into()),
            document: Some("doc-infected".into()),
            at,
            data: json!({"piece": "identite"}),
        },
        batches: [read, failed],
    }
}

/// The views of [`records`], checked against their schemas.
fn views_show_every_optional_field(check: &mut Conformance) {
    let records = records();
    let snapshot = &records.snapshot;
    // Every document's pictures failed, so that `previews_failure` shows; the infected one
    // is also in two other dossiers, once unclassified there.
    let previews: views::PreviewStates = snapshot
        .documents
        .iter()
        .chain([&records.infected])
        .map(|d| {
            (
                d.id.clone(),
                render::Previews::Failed("no page renders".into()),
            )
        })
        .collect();
    let same = |dossier: &str, piece: Option<&str>| SameContent {
        sha256: records.infected.sha256.clone(),
        document: format!("doc-of-{dossier}"),
        dossier: dossier.into(),
        piece: piece.map(str::to_string),
    };
    let failed = views::DocumentFacts {
        previews,
        duplicates: views::duplicates_by_content(vec![
            same("CONF-3", Some("identite")),
            same("CONF-4", None),
        ]),
    };
    let dossier = views::dossier(snapshot, &failed);
    assert_eq!(dossier.unclassified[0].duplicates.len(), 2);
    check.view("Dossier", &dossier);
    check.view(
        "FiledDocument",
        &views::filed_document(&records.infected, &snapshot.standing(), &failed),
    );
    check.view(
        "Deliveries",
        &views::Deliveries {
            webhook: views::webhook(&records.webhook),
            deliveries: records.deliveries.iter().map(views::delivery).collect(),
        },
    );
    check.view(
        "Events",
        &views::Events {
            events: vec![views::event(records.event.clone())],
            last: records.event.id,
        },
    );
    let [read, failed] = &records.batches;
    let shown = views::batch(read);
    assert_eq!(shown.blank_pages, [3]);
    assert_eq!(
        (shown.progress.segments, shown.progress.segments_filed),
        (1, 1)
    );
    check.view("Batch", &shown);
    check.view("Batch", &views::batch(failed));
    let now = chrono::Utc::now();
    let upload = storage::UploadRecord {
        id: "1b4e28ba-2fa1-11d2-883f-0016d3cca427".into(),
        dossier: "CONF-2".into(),
        piece: "identite".into(),
        actor: "portal:inscriptions".into(),
        length: 773,
        offset: 773,
        metadata: None,
        parts: json!({}),
        state: "refused".into(),
        document: Some("doc-1".into()),
        outcome: Some(json!({"code": "document_rejected", "message": "refused", "details": {}})),
        created_at: now,
        updated_at: now,
        expires_at: now,
    };
    check.view("UploadView", &crate::tus::UploadView::from(&upload));
}

/// The campaign view is the shape `dossiers` gives a campaign, field for field.
#[test]
fn the_campaign_view_is_the_domain_shape() {
    for name in ["demonstration", "cap-2025-poitiers"] {
        let source = String::from_utf8(sample(&format!("campaigns/{name}.toml"))).expect("UTF-8");
        let campaign = dossiers::Campaign::parse(&source, name).expect("it parses");
        assert_eq!(
            serde_json::to_value(views::campaign(&campaign)).expect("serialises"),
            serde_json::to_value(&campaign).expect("serialises"),
            "{name}"
        );
    }
}

/// The validator refuses what it should: otherwise the tests above prove nothing.
#[test]
fn the_validator_refuses_drift() {
    let mut check = Conformance::new();
    let at: DateTime<Utc> = "2026-03-01T09:30:00Z".parse().expect("a date-time");
    let good = views::Webhook {
        id: "w".into(),
        campaign: "c".into(),
        url: "http://h/".into(),
        created_at: at,
        last_event: 0,
    };
    check.view("Webhook", &good);
    assert!(
        check.outcome.errors.is_empty(),
        "{:?}",
        check.outcome.errors
    );

    let wrong = |value: Value, component: &str| {
        let validator = Validator { doc: &check.doc };
        let (schema, at) = validator.target(&format!("#/components/schemas/{component}"));
        let outcome = validator.check(schema, &at, &value, component, &BTreeSet::new());
        assert!(!outcome.errors.is_empty(), "{component} took {value}");
    };
    let base = serde_json::to_value(&good).expect("serialises");
    let changed = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut object = base.as_object().cloned().expect("an object");
        change(&mut object);
        Value::Object(object)
    };
    wrong(
        changed(&|o| drop(o.insert("secret".into(), json!("s")))),
        "Webhook",
    );
    wrong(changed(&|o| drop(o.remove("url"))), "Webhook");
    wrong(
        changed(&|o| drop(o.insert("campaign".into(), Value::Null))),
        "Webhook",
    );
    wrong(
        changed(&|o| drop(o.insert("created_at".into(), json!("yesterday")))),
        "Webhook",
    );
    wrong(json!("closing"), "DossierState");
    // The allOf of a filed document: a property of neither part is still drift.
    wrong(json!({"dossier": {}, "unknown": 1}), "FiledDocument");

    // A property declared and never sent is reported by `finish`.
    let declared = response_properties(&check.doc);
    assert!(declared.contains("#/components/schemas/Document/properties/scan_signature"));
    assert!(
        !check
            .outcome
            .seen
            .contains("#/components/schemas/Document/properties/piece")
    );
}
