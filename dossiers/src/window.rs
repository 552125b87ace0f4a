//! The campaign window: whether a campaign takes uploads at a given instant.
//!
//! Invariants:
//! - The window is `[opens_at, closes_at)`: open at the opening instant itself, closed at the
//!   deadline itself ("jusqu'au 13 novembre 19:00" means 19:00:00 is too late).
//! - Comparisons are between instants, never between wall-clock times, so a daylight saving
//!   change inside the window (27 October 2024 in Europe/Paris) shifts nothing.
//! - The campaign's time zone only serves to show instants to people, in French.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::campaign::Campaign;

/// Where an instant falls relative to a campaign's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// Before `opens_at`.
    NotYetOpen,
    /// From `opens_at` (inclusive) to `closes_at` (exclusive).
    Open,
    /// From `closes_at` on: uploads are refused, mailroom documents are taken but late.
    Closed,
}

impl Window {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::NotYetOpen => "not_yet_open",
            Window::Open => "open",
            Window::Closed => "closed",
        }
    }
}

impl Campaign {
    /// Where `now` falls relative to the window.
    pub fn window_at(&self, now: DateTime<Utc>) -> Window {
        self.window_until(now, self.closes_at().with_timezone(&Utc))
    }

    /// Where `now` falls relative to the window of a dossier whose own deadline is
    /// `deadline` (the campaign's, or later when staff extended it).
    pub fn window_until(&self, now: DateTime<Utc>, deadline: DateTime<Utc>) -> Window {
        if now < self.opens_at() {
            Window::NotYetOpen
        } else if now < deadline {
            Window::Open
        } else {
            Window::Closed
        }
    }

    /// Whether a document received at `received_at` came at or after the deadline
    /// (mailroom documents are still taken, flagged late).
    pub fn is_late(&self, received_at: DateTime<Utc>) -> bool {
        received_at >= self.closes_at()
    }

    /// The deadline in French, in the campaign's time zone:
    /// "13 novembre 2024 à 19:00 (heure de Paris)".
    pub fn deadline_fr(&self) -> String {
        format_fr(self.closes_at().with_timezone(&Utc), self.timezone())
    }

    /// The opening in French, in the campaign's time zone.
    pub fn opening_fr(&self) -> String {
        format_fr(self.opens_at().with_timezone(&Utc), self.timezone())
    }
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// An instant as a French reader expects it, in `timezone`:
/// "1er novembre 2024 à 09:05 (heure de Paris)".
pub fn format_fr(instant: DateTime<Utc>, timezone: Tz) -> String {
    let local = instant.with_timezone(&timezone);
    let day = match local.day() {
        1 => "1er".to_string(),
        day => day.to_string(),
    };
    let month = MONTHS
        .get(local.month0() as usize)
        .copied()
        .unwrap_or_default();
    format!(
        "{day} {month} {} à {:02}:{:02} ({})",
        local.year(),
        local.hour(),
        local.minute(),
        zone_label(timezone)
    )
}

/// "heure de Paris" for `Europe/Paris`; "UTC" for the UTC zones.
fn zone_label(timezone: Tz) -> String {
    let name = timezone.name();
    if matches!(
        name,
        "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Zulu" | "Zulu" | "Etc/GMT"
    ) {
        return "UTC".to_string();
    }
    let city = name.rsplit('/').next().unwrap_or(name).replace('_', " ");
    format!("heure de {city}")
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::campaign::tests::sample;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    const SECOND: TimeDelta = TimeDelta::seconds(1);

    #[test]
    fn both_sides_of_each_bound() {
        let campaign = sample();
        // 10:00 in Paris summer time is 08:00 UTC.
        let opens = utc("2024-10-10T08:00:00Z");
        assert_eq!(campaign.window_at(opens - SECOND), Window::NotYetOpen);
        assert_eq!(campaign.window_at(opens), Window::Open);
        // 19:00 in Paris winter time is 18:00 UTC (not 17:00: the DST change lies between).
        let closes = utc("2024-11-13T18:00:00Z");
        assert_eq!(campaign.window_at(closes - SECOND), Window::Open);
        assert_eq!(campaign.window_at(closes), Window::Closed);
        assert_eq!(
            campaign.window_at(utc("2024-11-13T17:30:00Z")),
            Window::Open
        );
        assert!(!campaign.is_late(closes - SECOND));
        assert!(campaign.is_late(closes));
    }

    #[test]
    fn open_across_the_dst_change() {
        let campaign = sample();
        // 27 Oct 2024: 03:00 CEST becomes 02:00 CET.
        for instant in [
            "2024-10-27T00:59:59Z",
            "2024-10-27T01:00:00Z",
            "2024-10-27T02:30:00+01:00",
        ] {
            assert_eq!(campaign.window_at(utc(instant)), Window::Open, "{instant}");
        }
    }

    #[test]
    fn a_campaign_in_utc() {
        let source = crate::campaign::tests::SPEC_SAMPLE
            .replace("2024-10-10T10:00:00+02:00", "2024-10-10T08:00:00Z")
            .replace("2024-11-13T19:00:00+01:00", "2024-11-13T18:00:00Z");
        let campaign = Campaign::parse(&source, "x").expect("parses");
        let reference = sample();
        assert_eq!(campaign.opens_at(), reference.opens_at());
        assert_eq!(campaign.closes_at(), reference.closes_at());
        let closes = utc("2024-11-13T18:00:00Z");
        assert_eq!(campaign.window_at(closes - SECOND), Window::Open);
        assert_eq!(campaign.window_at(closes), Window::Closed);
        assert_eq!(
            campaign.window_at(utc("2024-10-10T07:59:59Z")),
            Window::NotYetOpen
        );
        // Shown in Paris time all the same.
        assert_eq!(
            campaign.deadline_fr(),
            "13 novembre 2024 à 19:00 (heure de Paris)"
        );
    }

    #[test]
    fn deadline_in_french() {
        let campaign = sample();
        assert_eq!(
            campaign.deadline_fr(),
            "13 novembre 2024 à 19:00 (heure de Paris)"
        );
        assert_eq!(
            campaign.opening_fr(),
            "10 octobre 2024 à 10:00 (heure de Paris)"
        );
        assert_eq!(
            format_fr(utc("2024-11-01T08:05:00Z"), chrono_tz::Europe::Paris),
            "1er novembre 2024 à 09:05 (heure de Paris)"
        );
        assert_eq!(
            format_fr(
                utc("2024-08-15T12:00:00Z"),
                chrono_tz::America::Port_of_Spain
            ),
            "15 août 2024 à 08:00 (heure de Port of Spain)"
        );
        assert_eq!(
            format_fr(utc("2024-08-15T12:00:00Z"), chrono_tz::UTC),
            "15 août 2024 à 12:00 (UTC)"
        );
    }

    #[test]
    fn window_names() {
        assert_eq!(
            serde_json::to_value(Window::NotYetOpen).expect("serializes"),
            serde_json::json!(Window::NotYetOpen.as_str())
        );
    }
}
