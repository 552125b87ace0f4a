//! The document structure: bookmarks and the page tree, walked iteratively, each node once.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::content::{Budget, check_drawings, check_page_content};
use super::object::{dict_of, name_is, number, resolve};
use crate::reason::ReasonCode;
use crate::{Findings, Limits, clock};

/// The largest page side the PDF format allows, in default user space units (200 inches).
const MAX_PAGE_SIDE: f64 = 14_400.0;

/// The bookmarks: a tree linked by /First and /Next; a node reached twice is a loop.
pub(super) fn check_outlines(
    doc: &Document,
    catalog: &Dictionary,
    limits: &Limits,
    f: &mut Findings,
) {
    let Ok(Object::Reference(root)) = catalog.get(b"Outlines") else {
        return;
    };
    let mut seen = HashSet::new();
    let mut stack = vec![*root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            return f.refuse(
                ReasonCode::PdfStructure,
                format!(
                    "the bookmarks loop: object {} {} is reached twice",
                    id.0, id.1
                ),
            );
        }
        if seen.len() > limits.max_pdf_objects {
            return f.refuse(ReasonCode::PdfTooComplex, "too many bookmarks");
        }
        let Some(d) = doc.objects.get(&id).and_then(|o| dict_of(doc, o)) else {
            continue;
        };
        for key in [&b"First"[..], b"Next"] {
            if let Ok(Object::Reference(next)) = d.get(key) {
                stack.push(*next);
            }
        }
    }
}

/// A node of the page tree with what it inherits.
struct Node<'a> {
    id: ObjectId,
    depth: usize,
    /// The page tree nodes above it, root first: reaching one of them again is a loop.
    ancestors: Vec<ObjectId>,
    media_box: Option<&'a Object>,
    resources: Option<&'a Object>,
    user_unit: Option<&'a Object>,
}

pub(super) fn check_pages(
    doc: &Document,
    catalog: &Dictionary,
    has_eof: bool,
    limits: &Limits,
    budget: &mut Budget,
    f: &mut Findings,
) {
    let root = match catalog.get(b"Pages") {
        Ok(Object::Reference(id)) => *id,
        _ => {
            let code = if has_eof {
                ReasonCode::PdfStructure
            } else {
                ReasonCode::PdfTruncated
            };
            return f.refuse(code, "the catalog has no page tree");
        }
    };
    let declared_count = doc
        .objects
        .get(&root)
        .and_then(|o| dict_of(doc, o))
        .and_then(|d| d.get(b"Count").ok())
        .and_then(|c| c.as_i64().ok());

    let mut visited = HashSet::new();
    let mut pages: u32 = 0;
    let mut damaged_pages = Vec::new();
    let mut listed_again = Vec::new();
    let mut steps = 0usize;
    let mut stack = vec![Node {
        id: root,
        depth: 0,
        ancestors: Vec::new(),
        media_box: None,
        resources: None,
        user_unit: None,
    }];
    while let Some(node) = stack.pop() {
        if clock::over() {
            return;
        }
        steps += 1;
        if steps > limits.max_pdf_objects {
            return f.refuse(
                ReasonCode::PdfTooComplex,
                "the page tree is too large to walk",
            );
        }
        if node.ancestors.contains(&node.id) {
            return f.refuse(
                ReasonCode::PdfStructure,
                format!(
                    "the page tree loops: object {} {} is reached twice",
                    node.id.0, node.id.1
                ),
            );
        }
        // Listed twice, not in a loop: readers show it twice (the page limit bounds how often).
        if !visited.insert(node.id) {
            listed_again.push(format!("{} {}", node.id.0, node.id.1));
        }
        if node.depth > limits.max_nesting {
            return f.refuse(
                ReasonCode::PdfTooComplex,
                format!("the page tree is deeper than {}", limits.max_nesting),
            );
        }
        let Some(dict) = doc.objects.get(&node.id).and_then(|o| dict_of(doc, o)) else {
            let code = if has_eof {
                ReasonCode::PdfStructure
            } else {
                ReasonCode::PdfTruncated
            };
            return f.refuse(
                code,
                format!("page tree node {} {} is missing", node.id.0, node.id.1),
            );
        };
        let media_box = dict.get(b"MediaBox").ok().or(node.media_box);
        let resources = dict.get(b"Resources").ok().or(node.resources);
        let user_unit = dict.get(b"UserUnit").ok().or(node.user_unit);
        let is_pages = name_is(dict.get(b"Type").ok(), b"Pages") || dict.has(b"Kids");
        if is_pages {
            let kids = match dict.get(b"Kids").ok().and_then(|k| resolve(doc, k)) {
                Some(Object::Array(kids)) => kids,
                _ => {
                    return f.refuse(
                        ReasonCode::PdfStructure,
                        "a page tree node has no /Kids array",
                    );
                }
            };
            let mut ancestors = node.ancestors.clone();
            ancestors.push(node.id);
            // Pushed in reverse so pages come off the stack in document order.
            for kid in kids.iter().rev() {
                let Object::Reference(kid) = kid else {
                    return f.refuse(ReasonCode::PdfStructure, "a /Kids entry is not a reference");
                };
                stack.push(Node {
                    id: *kid,
                    depth: node.depth + 1,
                    ancestors: ancestors.clone(),
                    media_box,
                    resources,
                    user_unit,
                });
            }
            continue;
        }
        if !name_is(dict.get(b"Type").ok(), b"Page")
            && !dict.has(b"Contents")
            && !dict.has(b"MediaBox")
        {
            return f.refuse(
                ReasonCode::PdfStructure,
                format!(
                    "page tree node {} {} is neither a page nor a page list",
                    node.id.0, node.id.1
                ),
            );
        }
        pages += 1;
        if pages > limits.max_pdf_pages {
            return f.refuse(
                ReasonCode::TooManyPages,
                format!(
                    "more than {} pages, the most guichet verifies",
                    limits.max_pdf_pages
                ),
            );
        }
        check_page_size(doc, pages, media_box, user_unit, f);
        let damaged_before = budget.checksum_failures.len();
        let checked = check_page_content(doc, node.id, dict, resources, limits, budget);
        if budget.checksum_failures.len() > damaged_before {
            damaged_pages.push(pages.to_string());
        }
        if let Err((code, detail)) = checked {
            f.refuse(code, format!("page {pages}: {detail}"));
            if code == ReasonCode::PdfDecompressionBomb {
                break;
            }
        }
    }
    if let Err((code, detail)) = check_drawings(budget) {
        f.refuse(code, detail);
    }
    if !budget.checksum_failures.is_empty() {
        f.note(
            ReasonCode::PdfContentDamaged,
            format!(
                "page(s) {}: content inflated whole but failing its checksum ({})",
                damaged_pages.join(", "),
                budget.checksum_failures.join(", ")
            ),
        );
    }
    if !listed_again.is_empty() {
        listed_again.dedup();
        f.note(
            ReasonCode::PdfRepaired,
            format!(
                "the page tree lists object(s) {} more than once; readers show each time",
                listed_again.join(", ")
            ),
        );
    }
    f.pages = Some(pages);
    if pages == 0 {
        f.refuse(ReasonCode::PdfNoPages, "the page tree holds no page");
    }
    if let Some(count) = declared_count
        && (count < 0 || count > i64::from(limits.max_pdf_pages))
    {
        f.refuse(
            ReasonCode::PdfStructure,
            format!("/Count says {count} pages, {pages} found"),
        );
    } else if let Some(count) = declared_count
        && count != i64::from(pages)
    {
        f.note(
            ReasonCode::PdfPageCountMismatch,
            format!("/Count says {count}, {pages} pages found"),
        );
    }
}

fn check_page_size(
    doc: &Document,
    page: u32,
    media_box: Option<&Object>,
    unit: Option<&Object>,
    f: &mut Findings,
) {
    let Some(Object::Array(corners)) = media_box.and_then(|m| resolve(doc, m)) else {
        return;
    };
    let v: Vec<f64> = corners
        .iter()
        .filter_map(|c| resolve(doc, c).and_then(number))
        .collect();
    if v.len() != 4 {
        return;
    }
    let unit = unit
        .and_then(|u| resolve(doc, u))
        .and_then(number)
        .unwrap_or(1.0)
        .max(1.0);
    let (w, h) = ((v[2] - v[0]).abs() * unit, (v[3] - v[1]).abs() * unit);
    if w > MAX_PAGE_SIDE || h > MAX_PAGE_SIDE {
        f.refuse(
            ReasonCode::PdfPageTooLarge,
            format!("page {page} measures {w:.0} x {h:.0} units (at most {MAX_PAGE_SIDE} a side)"),
        );
    }
}
