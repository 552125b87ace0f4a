//! How long personal data is kept: ISO 8601 durations from the campaign file.
//!
//! - `[retention] after_close = "P12M"`: a dossier's documents lose their content this long
//!   after the dossier is closed;
//! - `purge_after_decision = "P30D"` on a piece: each of its documents loses its content this
//!   long after staff decided on it (accepted or refused; an automatic acceptance counts).
//!
//! Years and months are calendar units (12 months after 31 January is 31 January), days are
//! days of 24 hours; a period is never zero or negative.

use std::fmt;

use chrono::{DateTime, Months, TimeDelta, Utc};
use iso8601_duration::Duration;

/// A retention period, as written (`P12M`, `P30D`, `PT10S`).
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    text: String,
    months: u32,
    rest: TimeDelta,
}

impl Period {
    /// Parses an ISO 8601 duration: `P` then years, months, weeks or days, and `T` hours,
    /// minutes, seconds. Years, months, weeks and days are whole numbers.
    pub fn parse(text: &str) -> Result<Period, String> {
        let parsed = Duration::parse(text).map_err(|_| {
            format!("{text:?} is not an ISO 8601 duration (such as \"P12M\", \"P30D\" or \"PT1H\")")
        })?;
        let whole = |value: f32, unit: &str| -> Result<u32, String> {
            if value.fract() != 0.0 || !(0.0..=100_000.0).contains(&value) {
                return Err(format!("{text:?}: the {unit} must be a whole number"));
            }
            Ok(value as u32)
        };
        let years = whole(parsed.year, "years")?;
        let months = whole(parsed.month, "months")?;
        let months = years
            .checked_mul(12)
            .and_then(|m| m.checked_add(months))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        let days = whole(parsed.day, "days")?;
        let seconds = f64::from(parsed.hour) * 3600.0
            + f64::from(parsed.minute) * 60.0
            + f64::from(parsed.second);
        let rest = TimeDelta::try_days(i64::from(days))
            .and_then(|d| d.checked_add(&TimeDelta::milliseconds((seconds * 1000.0) as i64)))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        if months == 0 && rest <= TimeDelta::zero() {
            return Err(format!(
                "{text:?}: a retention period must be longer than zero"
            ));
        }
        Ok(Period {
            text: text.to_string(),
            months,
            rest,
        })
    }

    /// The instant this period after `start`; `None` beyond the calendar.
    pub fn after(&self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        start
            .checked_add_months(Months::new(self.months))?
            .checked_add_signed(self.rest)
    }

    /// The latest start whose period has ended at `now`: what started at or before it is due.
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_sub_signed(self.rest)?
            .checked_sub_months(Months::new(self.months))
    }

    /// The period as written in the campaign file.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    #[test]
    fn calendar_and_clock_units() {
        let year = Period::parse("P1Y").expect("parses");
        assert_eq!(
            year.after(at("2024-02-29T10:00:00Z")),
            Some(at("2025-02-28T10:00:00Z"))
        );
        let month = Period::parse("P12M").expect("parses");
        assert_eq!(
            month.after(at("2025-01-31T00:00:00Z")),
            Some(at("2026-01-31T00:00:00Z"))
        );
        let mixed = Period::parse("P1DT2H30M").expect("parses");
        assert_eq!(
            mixed.after(at("2025-01-01T00:00:00Z")),
            Some(at("2025-01-02T02:30:00Z"))
        );
        let weeks = Period::parse("P2W").expect("parses");
        assert_eq!(
            weeks.after(at("2025-01-01T00:00:00Z")),
            Some(at("2025-01-15T00:00:00Z"))
        );
        let seconds = Period::parse("PT10S").expect("parses");
        assert_eq!(
            seconds.cutoff(at("2025-01-01T00:00:10Z")),
            Some(at("2025-01-01T00:00:00Z"))
        );
        assert_eq!(seconds.as_str(), "PT10S");
    }

    #[test]
    fn what_is_not_a_period_is_refused() {
        for text in [
            "", "12M", "P", "P12", "P1M junk", "P1.5M", "PT0S", "P0D", "-P1D", "P1D1D",
        ] {
            assert!(Period::parse(text).is_err(), "{text:?} should be refused");
        }
    }
}
