//! Conditions: the `required_when` expressions that make a piece required for some candidates.
//!
//! A condition is a CEL expression (Common Expression Language) over one variable,
//! `candidate`, the dossier's candidate attributes. It is parsed by `cel-parser` and evaluated
//! by `cel-interpreter`, the maintained CEL implementation for Rust; nothing here parses
//! expressions by hand.
//!
//! Invariants:
//! - A [`Condition`] has been parsed and checked at campaign load: it reads no name but
//!   `candidate` (and the loop variables of its own macros such as `exists`), calls only
//!   functions the interpreter provides, and builds no struct. A typo is a load error, not a
//!   surprise at evaluation.
//! - Evaluation never panics on candidate input: the interpreter has a few unimplemented (`todo` macro) paths
//!   (e.g. `exists` over a string), so evaluation runs under `catch_unwind` and a panic is an
//!   [`Outcome::Failed`].
//! - Evaluation says when it could not decide ([`Outcome::MissingAttribute`],
//!   [`Outcome::NotBoolean`], [`Outcome::Failed`]); the requirement layer makes such a piece
//!   required, never silently optional.
//!
//! How `cel-interpreter` 0.10 behaves, as pinned by the tests below:
//! - `&&` and `||` evaluate left to right and stop as soon as the result is known:
//!   `candidate.age < 25 && candidate.nationality == 'FR'` is `false` for a 30-year-old even
//!   without a nationality. The interpreter does not absorb errors on the left the way the CEL
//!   specification does, so `candidate.nationality == 'FR' && candidate.age < 25` without a
//!   nationality is a missing attribute (hence required) whatever the age: order matters.
//! - `&&`, `||` and `!` use truthiness (a non-empty string is true) and `||` returns its left
//!   operand when truthy, so `candidate.name || false` yields a string: [`Outcome::NotBoolean`].
//! - `has(candidate.x)` tests presence without error: it is how a campaign author says that an
//!   attribute is optional, e.g. `has(candidate.amenagement) && candidate.amenagement`.
//! - `candidate['x']` on a missing key yields `null` instead of an error, so it escapes the
//!   missing-attribute rule; campaign authors should prefer the dotted form.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel_interpreter::objects::Map;
use cel_interpreter::{Context, ExecutionError, Value};
use cel_parser::Expression;
use cel_parser::ast::{EntryExpr, Expr, operators};
use serde_json::Value as Json;

use crate::candidate::Candidate;

/// The one variable a condition may read.
pub const CANDIDATE_VARIABLE: &str = "candidate";

/// The functions that `cel_interpreter::Context::default()` registers in version 0.10.
/// The interpreter does not expose its registry, so this list mirrors it; a test checks
/// that every name here resolves.
const BUILTIN_FUNCTIONS: &[&str] = &[
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "matches",
    "duration",
    "timestamp",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// The operators the interpreter evaluates itself rather than through its function registry.
const OPERATORS: &[&str] = &[
    operators::CONDITIONAL,
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::ADD,
    operators::SUBSTRACT,
    operators::MULTIPLY,
    operators::DIVIDE,
    operators::MODULO,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::LESS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::GREATER_EQUALS,
    operators::IN,
    operators::INDEX,
    operators::NEGATE,
    operators::NOT_STRICTLY_FALSE,
];

/// A compiled `required_when` expression.
#[derive(Debug, Clone)]
pub struct Condition {
    source: String,
    // Arc: a campaign is cloned into request handlers; the AST is immutable.
    expr: Arc<Expression>,
    /// Every `candidate.a.b` chain the expression reads, in source order, used to name the
    /// full path of a missing attribute (the interpreter only reports the last key).
    paths: Vec<Vec<String>>,
}

/// Why a condition was refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(String);

/// The result of evaluating a condition for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The condition is true: the piece is required.
    Holds,
    /// The condition is false: the piece is not required.
    DoesNotHold,
    /// The condition read an attribute the candidate lacks; carries its path,
    /// e.g. `candidate.nationality`.
    MissingAttribute(String),
    /// The condition gave a value that is not a boolean; carries its CEL type name.
    NotBoolean(String),
    /// The interpreter failed (type mismatch, division by zero...); carries its message.
    Failed(String),
}

impl Condition {
    /// Parses and checks a condition.
    pub fn compile(source: &str) -> Result<Condition, ConditionError> {
        if source.trim().is_empty() {
            return Err(ConditionError("the condition is empty".into()));
        }
        let parsed = catch_unwind(|| {
            cel_parser::Parser::default()
                .parse(source)
                .map_err(|errors| describe_parse_errors(&errors))
        });
        let expr = match parsed {
            Ok(Ok(expr)) => expr,
            Ok(Err(message)) => return Err(ConditionError(message)),
            Err(_) => {
                // cel-parser 0.10 panics (an `unreachable!` in its ANTLR visitor) on some
                // truncated expressions such as `candidate.age <`.
                return Err(ConditionError(
                    "the condition does not parse (incomplete or malformed expression)".into(),
                ));
            }
        };
        check(&expr, &mut Vec::new()).map_err(ConditionError)?;
        let mut paths = Vec::new();
        collect_paths(&expr, &mut paths);
        Ok(Condition {
            source: source.to_string(),
            expr: Arc::new(expr),
            paths,
        })
    }

    /// The expression as written in the campaign.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the condition against a candidate's attributes.
    pub fn evaluate(&self, candidate: &Candidate) -> Outcome {
        let attributes = object_to_cel(candidate.attributes());
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut context = Context::default();
            context.add_variable_from_value(CANDIDATE_VARIABLE, attributes);
            context.resolve(&self.expr)
        }));
        match result {
            Ok(Ok(Value::Bool(true))) => Outcome::Holds,
            Ok(Ok(Value::Bool(false))) => Outcome::DoesNotHold,
            Ok(Ok(other)) => Outcome::NotBoolean(other.type_of().to_string()),
            Ok(Err(ExecutionError::NoSuchKey(key))) => {
                Outcome::MissingAttribute(self.missing_path(&key, candidate.attributes()))
            }
            Ok(Err(error)) => Outcome::Failed(error.to_string()),
            Err(_) => Outcome::Failed("the interpreter stopped on this condition".into()),
        }
    }

    /// Names the attribute behind a `NoSuchKey(key)`: the first path read by the expression
    /// that breaks off at `key` in these attributes, or the bare key when none does (a key
    /// read inside a macro, e.g. `d.level` in `candidate.diplomas.exists(d, d.level > 3)`).
    fn missing_path(&self, key: &str, attributes: &serde_json::Map<String, Json>) -> String {
        for path in &self.paths {
            let mut current: Option<&Json> = None;
            for (depth, segment) in path.iter().enumerate() {
                let next = match current {
                    None => attributes.get(segment),
                    Some(value) => value.get(segment),
                };
                match next {
                    Some(value) => current = Some(value),
                    None if segment == key => {
                        return format!("{CANDIDATE_VARIABLE}.{}", path[..=depth].join("."));
                    }
                    None => break,
                }
            }
        }
        key.to_string()
    }
}

/// One line per parse error, without the caret drawing of the parser's `Display`.
fn describe_parse_errors(errors: &cel_parser::ParseErrors) -> String {
    let described: Vec<String> = errors
        .errors
        .iter()
        .map(|e| format!("{} (column {})", e.msg, e.pos.1))
        .collect();
    if described.is_empty() {
        "the condition does not parse".to_string()
    } else {
        format!("the condition does not parse: {}", described.join("; "))
    }
}

/// Refuses what would only fail at evaluation: unknown names, unknown functions, structs.
/// `bound` holds the loop variables of the enclosing macros.
fn check(expr: &Expression, bound: &mut Vec<String>) -> Result<(), String> {
    match &expr.expr {
        Expr::Unspecified => Err("the condition is incomplete".into()),
        Expr::Literal(_) => Ok(()),
        Expr::Ident(name) => {
            if name == CANDIDATE_VARIABLE || bound.iter().any(|b| b == name) {
                Ok(())
            } else {
                Err(format!(
                    "unknown name `{name}` (a condition reads `{CANDIDATE_VARIABLE}` only, \
                     e.g. `{CANDIDATE_VARIABLE}.{name}`)"
                ))
            }
        }
        Expr::Select(select) => check(&select.operand, bound),
        Expr::Call(call) => {
            let name = call.func_name.as_str();
            if !OPERATORS.contains(&name) && !BUILTIN_FUNCTIONS.contains(&name) {
                return Err(format!("unknown function `{name}`"));
            }
            if let Some(target) = &call.target {
                check(target, bound)?;
            }
            call.args.iter().try_for_each(|arg| check(arg, bound))
        }
        Expr::List(list) => list.elements.iter().try_for_each(|e| check(e, bound)),
        Expr::Map(map) => map.entries.iter().try_for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(e) => {
                check(&e.key, bound)?;
                check(&e.value, bound)
            }
            // The interpreter panics on a struct field inside a map literal.
            EntryExpr::StructField(_) => Err("struct fields are not supported".into()),
        }),
        Expr::Struct(_) => Err("struct literals are not supported".into()),
        Expr::Comprehension(c) => {
            check(&c.iter_range, bound)?;
            check(&c.accu_init, bound)?;
            let depth = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            let inner = check(&c.loop_cond, bound)
                .and_then(|()| check(&c.loop_step, bound))
                .and_then(|()| check(&c.result, bound));
            bound.truncate(depth);
            inner
        }
    }
}

/// `candidate.a.b` as `["a", "b"]`; `None` for anything not rooted at `candidate`.
fn candidate_path(expr: &Expression) -> Option<Vec<String>> {
    match &expr.expr {
        Expr::Ident(name) if name == CANDIDATE_VARIABLE => Some(Vec::new()),
        Expr::Select(select) if !select.test => {
            let mut path = candidate_path(&select.operand)?;
            path.push(select.field.clone());
            Some(path)
        }
        _ => None,
    }
}

fn collect_paths(expr: &Expression, out: &mut Vec<Vec<String>>) {
    if let Some(path) = candidate_path(expr) {
        if !path.is_empty() {
            out.push(path);
        }
        return;
    }
    match &expr.expr {
        Expr::Select(select) => collect_paths(&select.operand, out),
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect_paths(target, out);
            }
            call.args.iter().for_each(|arg| collect_paths(arg, out));
        }
        Expr::List(list) => list.elements.iter().for_each(|e| collect_paths(e, out)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    collect_paths(&e.key, out);
                    collect_paths(&e.value, out);
                }
            }
        }
        Expr::Comprehension(c) => {
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                collect_paths(part, out);
            }
        }
        Expr::Unspecified | Expr::Literal(_) | Expr::Ident(_) | Expr::Struct(_) => {}
    }
}

fn object_to_cel(object: &serde_json::Map<String, Json>) -> Value {
    let map: std::collections::HashMap<String, Value> = object
        .iter()
        .map(|(key, value)| (key.clone(), json_to_cel(value)))
        .collect();
    Value::Map(Map::from(map))
}

/// JSON to CEL: integers stay integers (so `candidate.age < 25` compares ints), other
/// numbers become doubles; the interpreter compares ints and doubles with each other.
fn json_to_cel(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Json::Object(object) => object_to_cel(object),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;

    fn candidate(attributes: Json) -> Candidate {
        let reference = NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid date");
        Candidate::new(attributes, reference).expect("valid candidate")
    }

    fn eval(source: &str, attributes: Json) -> Outcome {
        Condition::compile(source)
            .expect("compiles")
            .evaluate(&candidate(attributes))
    }

    const JDC: &str = "candidate.age < 25 && candidate.nationality == 'FR'";

    #[test]
    fn spec_condition_holds_and_does_not_hold() {
        let young_french = json!({"birth_date": "2005-03-01", "nationality": "FR"});
        assert_eq!(eval(JDC, young_french), Outcome::Holds);
        let young_other = json!({"birth_date": "2005-03-01", "nationality": "BE"});
        assert_eq!(eval(JDC, young_other), Outcome::DoesNotHold);
    }

    #[test]
    fn missing_attribute_is_named_with_its_full_path() {
        let young = json!({"birth_date": "2005-03-01"});
        assert_eq!(
            eval(JDC, young),
            Outcome::MissingAttribute("candidate.nationality".into())
        );
        let nested = "candidate.address.country == 'FR'";
        assert_eq!(
            eval(nested, json!({"address": {"city": "Poitiers"}})),
            Outcome::MissingAttribute("candidate.address.country".into())
        );
        assert_eq!(
            eval(nested, json!({})),
            Outcome::MissingAttribute("candidate.address".into())
        );
    }

    #[test]
    fn and_short_circuits_left_to_right_on_missing_keys() {
        // Age 30: the left side is false, the missing nationality is never read.
        let older = json!({"birth_date": "1990-01-01"});
        assert_eq!(eval(JDC, older.clone()), Outcome::DoesNotHold);
        // The other order reads the missing key first: the interpreter does not absorb it.
        let swapped = "candidate.nationality == 'FR' && candidate.age < 25";
        assert_eq!(
            eval(swapped, older),
            Outcome::MissingAttribute("candidate.nationality".into())
        );
        // Same for `||` once the left side decides.
        let or = "candidate.age >= 25 || candidate.nationality == 'FR'";
        assert_eq!(eval(or, json!({"age": 30})), Outcome::Holds);
    }

    #[test]
    fn has_makes_an_attribute_optional_explicitly() {
        let source = "has(candidate.amenagement) && candidate.amenagement";
        assert_eq!(eval(source, json!({})), Outcome::DoesNotHold);
        assert_eq!(eval(source, json!({"amenagement": true})), Outcome::Holds);
    }

    #[test]
    fn non_boolean_results_are_reported() {
        assert_eq!(
            eval("candidate.nationality", json!({"nationality": "FR"})),
            Outcome::NotBoolean("string".into())
        );
        assert_eq!(
            eval("candidate.name || false", json!({"name": "Zoé"})),
            Outcome::NotBoolean("string".into())
        );
    }

    #[test]
    fn type_errors_fail_rather_than_answer() {
        let outcome = eval("candidate.age < 25", json!({"age": "vingt"}));
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    }

    #[test]
    fn interpreter_panics_are_caught() {
        // cel-interpreter 0.10 leaves a comprehension over a string unimplemented (a `todo` macro).
        let outcome = eval(
            "candidate.diplomes.exists(d, d == 'CAP')",
            json!({"diplomes": "CAP"}),
        );
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        assert_eq!(
            eval(
                "candidate.diplomes.exists(d, d == 'CAP')",
                json!({"diplomes": ["BEP", "CAP"]})
            ),
            Outcome::Holds
        );
    }

    #[test]
    fn json_values_convert() {
        let attrs = json!({
            "n": 3, "f": 2.5, "b": true, "list": ["a", "b"], "map": {"k": 1}, "nothing": null
        });
        let source = "candidate.n == 3 && candidate.f > 2 && candidate.b \
                      && 'b' in candidate.list && candidate.map.k == 1 \
                      && candidate.nothing == null && size(candidate.list) == 2";
        assert_eq!(eval(source, attrs), Outcome::Holds);
    }

    #[test]
    fn compile_errors_are_refused() {
        for (source, fragment) in [
            ("", "empty"),
            ("candidate.age <", "does not parse"),
            ("candidate.age < 25 &&& x", "does not parse"),
            ("candiate.age < 25", "unknown name `candiate`"),
            ("sizee(candidate.x) > 1", "unknown function `sizee`"),
            ("Foo{a: 1}", "struct"),
        ] {
            let error = Condition::compile(source).expect_err(source);
            assert!(
                error.to_string().contains(fragment),
                "{source}: {error} lacks {fragment}"
            );
        }
    }

    #[test]
    fn macro_variables_are_in_scope_only_inside_the_macro() {
        assert!(Condition::compile("candidate.l.exists(d, d == 'x')").is_ok());
        assert!(Condition::compile("candidate.l.all(d, d > 1) && d == 1").is_err());
    }

    #[test]
    fn every_listed_builtin_resolves() {
        for name in BUILTIN_FUNCTIONS {
            let expr = cel_parser::Parser::default()
                .parse(&format!("{name}()"))
                .expect("parses");
            let context = Context::default();
            let result = catch_unwind(AssertUnwindSafe(|| context.resolve(&expr)));
            if let Ok(Err(ExecutionError::UndeclaredReference(missing))) = result {
                panic!("{missing} is not a builtin of this cel-interpreter");
            }
        }
    }

    #[test]
    fn condition_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Condition>();
    }
}
