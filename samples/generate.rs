//! Makes the sample documents under `samples/documents/`: small specimen PDFs and images
//! as candidates send them, plus a mislabeled file. Deterministic: running it again
//! rewrites the same bytes.
//!
//! `cargo run --example generate-samples`

use std::path::Path;

use image::{ImageBuffer, Rgb, RgbImage};
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, StringFormat, dictionary};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/documents");
    std::fs::create_dir_all(&dir)?;
    let documents: [(&str, &[&str]); 3] = [
        (
            "carte-identite.pdf",
            &[
                "RÉPUBLIQUE FRANÇAISE — SPÉCIMEN",
                "Carte nationale d'identité",
                "Nom : MARTIN   Prénom : Camille",
                "Né(e) le : 14.03.2004 à POITIERS (86)",
                "Document de démonstration sans valeur.",
            ],
        ),
        (
            "attestation-jdc.pdf",
            &[
                "Ministère des Armées — SPÉCIMEN",
                "Certificat individuel de participation",
                "à la Journée défense et citoyenneté",
                "Camille MARTIN a participé à la JDC le 12.10.2021.",
                "Document de démonstration sans valeur.",
            ],
        ),
        (
            "justificatif-domicile.pdf",
            &[
                "Facture d'électricité — SPÉCIMEN",
                "Camille MARTIN",
                "12 rue des Carmes, 86000 POITIERS",
                "Période du 01.09.2026 au 30.09.2026",
                "Document de démonstration sans valeur.",
            ],
        ),
    ];
    for (name, lines) in documents {
        let mut doc = text_pdf(lines)?;
        doc.save(dir.join(name))?;
    }
    let card = identity_card_image();
    card.save(dir.join("carte-identite-recto.jpg"))?;
    card.save(dir.join("carte-identite-recto.png"))?;
    // A PNG named .pdf: its name lies about its content.
    std::fs::copy(
        dir.join("carte-identite-recto.png"),
        dir.join("faux-pdf.pdf"),
    )?;
    println!("samples written to {}", dir.display());
    Ok(())
}

/// An A4 page of Helvetica text. Strings are WinAnsi (Latin-1 for French letters).
fn text_pdf(lines: &[&str]) -> Result<Document, Box<dyn std::error::Error>> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 16.into()]),
        Operation::new("TL", vec![24.into()]),
        Operation::new("Td", vec![72.into(), 760.into()]),
    ];
    for line in lines {
        let latin1: Vec<u8> = line
            .chars()
            .map(|c| match c {
                '—' => 0x97,
                c if (c as u32) < 256 => c as u8,
                _ => b'?',
            })
            .collect();
        operations.push(Operation::new(
            "Tj",
            vec![Object::String(latin1, StringFormat::Literal)],
        ));
        operations.push(Operation::new("T*", vec![]));
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode()?));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    Ok(doc)
}

/// A card-like picture at a readable resolution: pale background, a photo box, text bars.
fn identity_card_image() -> RgbImage {
    let (width, height) = (1012, 638);
    ImageBuffer::from_fn(width, height, |x, y| {
        let in_photo = (60..330).contains(&x) && (150..520).contains(&y);
        let in_bar = (380..950).contains(&x) && (y % 70) < 22 && (160..560).contains(&y);
        let in_band = y < 100;
        // A faint guilloche so the image is not flat.
        let wave = (((x as f32 / 23.0).sin() + (y as f32 / 17.0).cos()) * 6.0) as i16;
        let tone = |base: i16| (base + wave).clamp(0, 255) as u8;
        if in_band {
            Rgb([0, 35, 149])
        } else if in_photo {
            Rgb([tone(170), tone(170), tone(180)])
        } else if in_bar {
            Rgb([40, 40, 48])
        } else {
            Rgb([tone(232), tone(236), tone(245)])
        }
    })
}
