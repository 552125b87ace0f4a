//! The brakes on password guessing: failed logins are counted per client address, per
//! (account, address) and per account over every address; past a threshold each further
//! attempt waits, twice as long after each failure, up to a cap (15 minutes by default, see
//! [`LoginLimits`]). A waiting attempt is answered 429 with `Retry-After` and checks no
//! password, so it costs no argon2.
//!
//! Invariants:
//! - An attempt is counted as a failure when it starts, before the password is checked, so
//!   that concurrent attempts cannot all slip under the threshold; a success takes it back and
//!   clears the counters of its address and of its (account, address).
//! - An attempt that waits is not counted: hammering does not lengthen the wait.
//! - Nobody is locked out for good: every wait is capped and counters are forgotten after
//!   twice the cap without failure. The count over every address, which a spread-out attacker
//!   could keep high, has a short cap (a minute) and does not apply at all to an (account,
//!   address) that logged in successfully before: the real user at their usual desk.
//! - Counters live in this process's memory, in a bounded map ([`MAX_ENTRIES`]; when full, the
//!   forgotten then the oldest go). With several processes each keeps its own, so the
//!   thresholds are per process; a restart forgets them.
//! - Behind a reverse proxy every login comes from the proxy's address: the per-address
//!   counter then counts everyone, and the proxy should do its own limiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::settings::LoginLimits;

/// The most counters kept; about 100 bytes each.
pub const MAX_ENTRIES: usize = 100_000;

/// How long a successful (account, address) is remembered as the account's own.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Account names longer than this are counted by their beginning (no valid name is longer).
const NAME_KEY_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Pair(String, IpAddr),
    Account(String),
    /// An (account, address) that logged in: exempt from the account's count.
    Known(String, IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// The last failure (or, for [`Key::Known`], the last success).
    last: Instant,
}

pub struct Throttle {
    limits: LoginLimits,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    pub fn new(limits: LoginLimits) -> Throttle {
        Throttle {
            limits,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Before a password is checked: `Err(wait)` if the attempt must wait that long first;
    /// otherwise counts the attempt as a failure, which [`Throttle::succeeded`] takes back.
    pub fn begin(&self, account: &str, address: IpAddr) -> Result<(), Duration> {
        self.begin_at(account, address, Instant::now())
    }

    /// After a successful login: clears the counters of the address and of the (account,
    /// address), and takes this attempt back from the account's count.
    pub fn succeeded(&self, account: &str, address: IpAddr) {
        self.succeeded_at(account, address, Instant::now());
    }

    fn begin_at(&self, account: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut entries = self.entries.lock().expect("throttle map lock");
        let keys = self.keys(&entries, account, address, now);
        for key in &keys {
            if entries
                .get(key)
                .is_some_and(|e| self.forgotten(key, e, now))
            {
                entries.remove(key);
            }
        }
        let wait = keys
            .iter()
            .filter_map(|key| Some(self.wait(key, entries.get(key)?, now)))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Err(wait);
        }
        for key in keys {
            if !entries.contains_key(&key) {
                make_room(&mut entries, |k, e| self.forgotten(k, e, now));
            }
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                last: now,
            });
            entry.failures = entry.failures.saturating_add(1);
            entry.last = now;
        }
        Ok(())
    }

    fn succeeded_at(&self, account: &str, address: IpAddr, now: Instant) {
        let (account, address) = (name_key(account), address_key(address));
        let mut entries = self.entries.lock().expect("throttle map lock");
        entries.remove(&Key::Address(address));
        entries.remove(&Key::Pair(account.clone(), address));
        if let Some(entry) = entries.get_mut(&Key::Account(account.clone())) {
            entry.failures = entry.failures.saturating_sub(1);
        }
        let known = Key::Known(account, address);
        if !entries.contains_key(&known) {
            make_room(&mut entries, |k, e| self.forgotten(k, e, now));
        }
        entries.insert(
            known,
            Entry {
                failures: 0,
                last: now,
            },
        );
    }

    /// The keys an attempt is counted under.
    fn keys(
        &self,
        entries: &HashMap<Key, Entry>,
        account: &str,
        address: IpAddr,
        now: Instant,
    ) -> Vec<Key> {
        let (account, address) = (name_key(account), address_key(address));
        let mut keys = vec![Key::Address(address), Key::Pair(account.clone(), address)];
        let known = entries
            .get(&Key::Known(account.clone(), address))
            .is_some_and(|e| now.duration_since(e.last) < KNOWN_FOR);
        if !known {
            keys.push(Key::Account(account));
        }
        keys
    }

    /// The threshold and the longest wait of a kind of key.
    fn rule(&self, key: &Key) -> (u32, Duration) {
        match key {
            Key::Address(_) | Key::Pair(..) => (self.limits.failures, self.limits.max_delay),
            Key::Account(_) => (self.limits.account_failures, self.limits.max_account_delay),
            Key::Known(..) => (u32::MAX, Duration::ZERO),
        }
    }

    /// How long an attempt under `key` must still wait.
    fn wait(&self, key: &Key, entry: &Entry, now: Instant) -> Duration {
        let (threshold, cap) = self.rule(key);
        if entry.failures < threshold {
            return Duration::ZERO;
        }
        let doublings = (entry.failures - threshold).min(30);
        let delay = self
            .limits
            .first_delay
            .saturating_mul(1 << doublings)
            .min(cap);
        (entry.last + delay).saturating_duration_since(now)
    }

    /// Whether an entry can go: no failure for twice the cap of its kind.
    fn forgotten(&self, key: &Key, entry: &Entry, now: Instant) -> bool {
        let age = now.duration_since(entry.last);
        match key {
            Key::Known(..) => age >= KNOWN_FOR,
            _ => age >= self.rule(key).1 * 2,
        }
    }
}

/// Before a new entry goes in a full map: drops the forgotten entries, then the oldest one.
fn make_room(entries: &mut HashMap<Key, Entry>, forgotten: impl Fn(&Key, &Entry) -> bool) {
    if entries.len() < MAX_ENTRIES {
        return;
    }
    entries.retain(|k, e| !forgotten(k, e));
    if entries.len() >= MAX_ENTRIES
        && let Some(oldest) = entries
            .iter()
            .min_by_key(|(_, e)| e.last)
            .map(|(k, _)| k.clone())
    {
        entries.remove(&oldest);
    }
}

fn name_key(account: &str) -> String {
    account.chars().take(NAME_KEY_CHARS).collect()
}

/// An IPv6 client is counted by its /64 (what one subscriber gets); an IPv4 one by itself.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            failures: 3,
            account_failures: 6,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_account_delay: Duration::from_secs(2),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn failures_past_the_threshold_wait_longer_each_time_up_to_the_cap() {
        let throttle = Throttle::new(LoginLimits {
            account_failures: 100,
            ..limits()
        });
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(throttle.begin_at("camille", a, t0), Ok(()));
        }
        assert_eq!(
            throttle.begin_at("camille", a, t0),
            Err(Duration::from_secs(1))
        );
        // Waiting attempts are not counted: the wait does not grow.
        assert_eq!(
            throttle.begin_at("camille", a, t0),
            Err(Duration::from_secs(1))
        );
        let mut now = t0;
        for expected in [2, 4, 8, 8, 8] {
            now += throttle
                .begin_at("camille", a, now)
                .err()
                .unwrap_or_default();
            assert_eq!(throttle.begin_at("camille", a, now), Ok(()));
            assert_eq!(
                throttle.begin_at("camille", a, now),
                Err(Duration::from_secs(expected))
            );
        }
        // Another address is not held back by this one (the account's count is below its
        // own threshold)...
        assert_eq!(throttle.begin_at("camille", ip("192.0.2.2"), now), Ok(()));
        // ...and all is forgotten after twice the cap.
        let later = now + Duration::from_secs(16);
        for _ in 0..2 {
            assert_eq!(throttle.begin_at("camille", a, later), Ok(()));
        }
    }

    #[test]
    fn a_success_clears_its_address_and_exempts_it_from_the_account_count() {
        let throttle = Throttle::new(limits());
        let now = Instant::now();
        let (home, attacker) = (ip("192.0.2.1"), ip("198.51.100.1"));
        assert_eq!(throttle.begin_at("camille", home, now), Ok(()));
        throttle.succeeded_at("camille", home, now);
        // Attackers from many addresses exhaust the account's count...
        for n in 0..6 {
            let address = ip(&format!("198.51.100.{}", n + 1));
            assert_eq!(throttle.begin_at("camille", address, now), Ok(()));
        }
        assert_eq!(
            throttle.begin_at("camille", attacker, now),
            Err(Duration::from_secs(1))
        );
        assert!(
            throttle
                .begin_at("camille", ip("203.0.113.9"), now)
                .is_err()
        );
        // ...but the user at their usual address is not held back.
        assert_eq!(throttle.begin_at("camille", home, now), Ok(()));
        throttle.succeeded_at("camille", home, now);
        // After a success, the address's count starts again from nothing.
        for _ in 0..3 {
            assert_eq!(throttle.begin_at("dominique", home, now), Ok(()));
        }
        assert!(throttle.begin_at("dominique", home, now).is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_prefix() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn the_map_stays_bounded() {
        let throttle = Throttle::new(limits());
        let now = Instant::now();
        for n in 0..(MAX_ENTRIES / 2 + 10) as u32 {
            let _ = throttle.begin_at("x", IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(throttle.entries.lock().expect("lock").len() <= MAX_ENTRIES);
    }
}
