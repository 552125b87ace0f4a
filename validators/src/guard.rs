//! The last line of defence: a decoder that panics on hostile input must not take the
//! service down. Root causes are fixed where they can be (limits checked before decoding);
//! this only turns what is left into an error the caller maps to a reason code.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into `Err` with the panic's message.
pub(crate) fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            format!("decoder panicked: {s}")
        } else if let Some(s) = payload.downcast_ref::<String>() {
            format!("decoder panicked: {s}")
        } else {
            "decoder panicked".to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error() {
        assert_eq!(no_panic(|| 2 + 2), Ok(4));
        let err = no_panic(|| -> u8 { panic!("boom") }).expect_err("panicked");
        assert!(err.contains("boom"));
    }
}
