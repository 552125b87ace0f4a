//! Candidate names and search keys.
//!
//! Candidate attributes are free JSON; the name is read from `last_name` / `first_name`
//! (or `nom` / `prenom`, or a single `name`). Keys are lowercase ASCII without accents, so
//! "Éloïse" is found by "elo", and they compare bytewise the same on every database.

use serde_json::{Map, Value};

/// The attributes read for the family name, in order of preference.
const FAMILY: [&str; 4] = ["last_name", "nom", "family_name", "name"];
/// The attributes read for the given name.
const GIVEN: [&str; 4] = ["first_name", "prenom", "prénom", "given_name"];

/// A candidate's name as shown, and the two search keys (family name first, given name
/// first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateName {
    pub shown: String,
    pub name_key: String,
    pub given_key: String,
}

fn first_text<'a>(attributes: &'a Map<String, Value>, names: &[&str]) -> &'a str {
    names
        .iter()
        .find_map(|name| attributes.get(*name).and_then(Value::as_str))
        .map(str::trim)
        .unwrap_or("")
}

pub fn candidate_name(candidate: &Value) -> CandidateName {
    let empty = Map::new();
    let attributes = candidate.as_object().unwrap_or(&empty);
    let family = first_text(attributes, &FAMILY);
    let given = first_text(attributes, &GIVEN);
    let shown = match (family.is_empty(), given.is_empty()) {
        (false, false) => format!("{} {given}", family.to_uppercase()),
        (false, true) => family.to_uppercase(),
        (true, false) => given.to_string(),
        (true, true) => String::new(),
    };
    CandidateName {
        shown,
        name_key: search_key(&format!("{family} {given}")),
        given_key: search_key(&format!("{given} {family}")),
    }
}

/// Lowercase ASCII letters, digits and `-_.`, words separated by one space; accents
/// dropped, anything else a separator. Used for keys and for what is searched.
pub fn search_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded = fold(c);
        if folded.is_empty() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push_str(folded);
    }
    out
}

/// One lowercase character as plain ASCII; empty for separators.
fn fold(c: char) -> &'static str {
    const PLAIN: &str = "abcdefghijklmnopqrstuvwxyz0123456789-_.";
    if let Some(i) = PLAIN.find(c) {
        return &PLAIN[i..i + 1];
    }
    match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
        'ç' => "c",
        'é' | 'è' | 'ê' | 'ë' => "e",
        'î' | 'ï' | 'í' | 'ì' => "i",
        'ñ' => "n",
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' | 'ø' => "o",
        'ù' | 'û' | 'ü' | 'ú' => "u",
        'ÿ' | 'ý' => "y",
        'œ' => "oe",
        'æ' => "ae",
        'ß' => "ss",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_drop_accents_case_and_punctuation() {
        assert_eq!(search_key("  Éloïse  D'Œillet "), "eloise d oeillet");
        assert_eq!(search_key("DEMO-0001"), "demo-0001");
        assert_eq!(search_key("<b>x</b>"), "b x b");
        assert_eq!(search_key(""), "");
    }

    #[test]
    fn names_come_from_the_usual_attributes() {
        let name = candidate_name(&json!({"last_name": "Martin", "first_name": "Camille"}));
        assert_eq!(name.shown, "MARTIN Camille");
        assert_eq!(name.name_key, "martin camille");
        assert_eq!(name.given_key, "camille martin");
        let french = candidate_name(&json!({"nom": "Lefèvre", "prenom": "Zoé"}));
        assert_eq!(french.name_key, "lefevre zoe");
        let none = candidate_name(&json!({"birth_date": "2000-01-01"}));
        assert_eq!(none.shown, "");
        assert_eq!(none.name_key, "");
        assert_eq!(candidate_name(&json!(null)).shown, "");
    }
}
