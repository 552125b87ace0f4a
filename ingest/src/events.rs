//! The kinds of event a dossier's history records and webhooks deliver, each with its one
//! serialised name. Events are written with the dossier change they describe, in the same
//! transaction (see [`crate::pipeline::dossier`]); the webhook outbox reads them in order.

use std::fmt;
use std::str::FromStr;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    DossierCreated,
    DossierSubmitted,
    DossierComplete,
    DossierReopened,
    DossierClosed,
    DocumentReceived,
    DocumentAccepted,
    DocumentRejected,
    DocumentWithdrawn,
    DocumentInfected,
    DocumentScanned,
    DocumentAssigned,
    DossierUpdated,
    DossierExtended,
    PieceCorrectionRequested,
    DocumentPurged,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::DossierCreated,
        EventKind::DossierSubmitted,
        EventKind::DossierComplete,
        EventKind::DossierReopened,
        EventKind::DossierClosed,
        EventKind::DocumentReceived,
        EventKind::DocumentAccepted,
        EventKind::DocumentRejected,
        EventKind::DocumentWithdrawn,
        EventKind::DocumentInfected,
        EventKind::DocumentScanned,
        EventKind::DocumentAssigned,
        EventKind::DossierUpdated,
        EventKind::DossierExtended,
        EventKind::PieceCorrectionRequested,
        EventKind::DocumentPurged,
    ];

    /// The name in the event feed, the webhook body and the `Guichet-Event-Type` header.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DossierCreated => "dossier.created",
            EventKind::DossierSubmitted => "dossier.submitted",
            EventKind::DossierComplete => "dossier.complete",
            EventKind::DossierReopened => "dossier.reopened",
            EventKind::DossierClosed => "dossier.closed",
            EventKind::DocumentReceived => "document.received",
            EventKind::DocumentAccepted => "document.accepted",
            EventKind::DocumentRejected => "document.rejected",
            EventKind::DocumentWithdrawn => "document.withdrawn",
            EventKind::DocumentInfected => "document.infected",
            EventKind::DocumentScanned => "document.scanned",
            EventKind::DocumentAssigned => "document.assigned",
            EventKind::DossierUpdated => "dossier.updated",
            EventKind::DossierExtended => "dossier.extended",
            EventKind::PieceCorrectionRequested => "piece.correction_requested",
            EventKind::DocumentPurged => "document.purged",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event kind `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        }
        assert!("document.lost".parse::<EventKind>().is_err());
    }
}
