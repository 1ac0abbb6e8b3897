//! Per-site fairness: at most `limit` hits a second are stored for one site, across every instance of
//! collect, so one site's flood (or a site whose page views are forged) cannot take the throughput,
//! concurrency and bill of the others.
//!
//! Each second has a counter per site in the store. An instance claims a block of that second's
//! allowance with one conditional write and spends it from memory, so the store sees one write per
//! block, not per hit. A claim that would pass the limit fails, and the instance refuses the site's hits
//! until the second ends. Blocks an instance does not spend are lost: the bound is never exceeded, and
//! a site near its limit may get a little less (at most a block per instance a second).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::site::SiteId;
use crate::spread::HITS_PER_SPREAD;

pub use crate::ports::RateCounter;

/// Largest block an instance claims at once: small enough that a site's allowance is spread over
/// the instances serving it, large enough that the counter costs a small fraction of the hits' writes.
const MAX_BLOCK: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// The site has had its share of this second.
    Limited,
}

pub struct SiteRateLimiter {
    /// Hits per second per site; `None`: no limit.
    limit: Option<u32>,
    leases: Mutex<HashMap<SiteId, Lease>>,
    /// One claim in flight per site: hits arriving together wait for it and spend its block, rather
    /// than each claiming a block of its own (which would take the site's allowance many times over).
    claiming: Mutex<HashMap<SiteId, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    second: i64,
    /// Hits this instance may still store in `second`.
    remaining: u32,
    /// A claim failed: the site's second is spent, for every instance.
    spent: bool,
}

impl SiteRateLimiter {
    pub fn new(limit: Option<u32>) -> Self {
        Self {
            limit: limit.filter(|limit| *limit > 0),
            leases: Mutex::default(),
            claiming: Mutex::default(),
        }
    }

    fn block(limit: u32) -> u32 {
        limit.div_ceil(20).clamp(1, MAX_BLOCK)
    }

    /// Whether one more hit of `site` may be stored at `now`, the site having `spreads` spreads then. A
    /// counter that cannot be reached admits (and says so in the log): fairness must not turn a store
    /// hiccup into lost hits.
    ///
    /// A site given more than one spread takes up to [`HITS_PER_SPREAD`] a second per spread if that is
    /// above the limit: spreading a site is the operator saying it may be that busy.
    pub async fn admit<C: RateCounter>(&self, counter: &C, site: &SiteId, spreads: u8, now: DateTime<Utc>) -> Verdict {
        let Some(limit) = self.limit else {
            return Verdict::Admitted;
        };
        let limit = match spreads {
            0 | 1 => limit,
            spreads => limit.max(u32::from(spreads) * HITS_PER_SPREAD),
        };
        let second = now.timestamp();
        if let Some(verdict) = self.spend(site, second) {
            return verdict;
        }
        let gate = self
            .claiming
            .lock()
            .expect("rate claim lock")
            .entry(site.clone())
            .or_default()
            .clone();
        let _claiming = gate.lock().await;
        // The claim this hit waited for may have left a block to spend.
        if let Some(verdict) = self.spend(site, second) {
            return verdict;
        }
        // A full block first; near the limit, what is left may be less than a block: then one token.
        for tokens in [Self::block(limit), 1] {
            match counter.claim(site, second, tokens, limit).await {
                Ok(true) => {
                    self.update(site, second, |lease| lease.remaining += tokens - 1);
                    return Verdict::Admitted;
                }
                Ok(false) => continue,
                Err(err) => {
                    // Admitted, and a block's worth after it without asking again: a counter in trouble
                    // is not asked once per hit.
                    tracing::warn!(site = %site, error = %err, "rate counter unavailable; hits admitted");
                    let block = Self::block(limit);
                    self.update(site, second, |lease| lease.remaining += block - 1);
                    return Verdict::Admitted;
                }
            }
        }
        self.update(site, second, |lease| lease.spent = true);
        Verdict::Limited
    }

    /// Spends one hit of this instance's block for `second`, if it has one; `Limited` once the site's
    /// second is spent; `None` when a block must be claimed.
    fn spend(&self, site: &SiteId, second: i64) -> Option<Verdict> {
        let mut leases = self.leases.lock().expect("rate lease lock");
        let lease = leases.entry(site.clone()).or_insert(Lease {
            second,
            remaining: 0,
            spent: false,
        });
        if lease.second != second {
            *lease = Lease {
                second,
                remaining: 0,
                spent: false,
            };
        }
        if lease.remaining > 0 {
            lease.remaining -= 1;
            return Some(Verdict::Admitted);
        }
        lease.spent.then_some(Verdict::Limited)
    }

    fn update(&self, site: &SiteId, second: i64, change: impl FnOnce(&mut Lease)) {
        let mut leases = self.leases.lock().expect("rate lease lock");
        if let Some(lease) = leases.get_mut(site).filter(|lease| lease.second == second) {
            change(lease);
        }
        // Seconds gone by are forgotten, so the maps hold only the sites seen lately.
        if leases.len() > 10_000 {
            leases.retain(|_, lease| lease.second >= second - 1);
            let mut claiming = self.claiming.lock().expect("rate claim lock");
            claiming.retain(|site, _| leases.contains_key(site));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::ports::StoreError;

    /// The store's counter: claims checked against the limit under one lock, as the conditional write is.
    #[derive(Default)]
    struct Counter {
        used: Mutex<HashMap<(SiteId, i64), u32>>,
        writes: Mutex<u32>,
    }

    impl RateCounter for Counter {
        async fn claim(&self, site: &SiteId, second: i64, tokens: u32, limit: u32) -> Result<bool, StoreError> {
            *self.writes.lock().unwrap() += 1;
            let mut used = self.used.lock().unwrap();
            let used = used.entry((site.clone(), second)).or_default();
            if *used + tokens > limit {
                return Ok(false);
            }
            *used += tokens;
            Ok(true)
        }
    }

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_768_473_000 + second, 0).unwrap()
    }

    /// Several instances sharing one counter store at most the limit per second between them (the
    /// brute-force check: count what was admitted), a flood of one site leaves another's allowance
    /// whole, and the next second starts afresh.
    #[tokio::test]
    async fn instances_together_admit_at_most_the_limit_per_site_and_second() {
        let counter = Arc::new(Counter::default());
        let instances: Vec<SiteRateLimiter> = (0..4).map(|_| SiteRateLimiter::new(Some(100))).collect();
        let (flooded, quiet) = (SiteId::parse("flooded").unwrap(), SiteId::parse("quiet").unwrap());
        let mut admitted = HashMap::<(&str, i64), u32>::new();
        for second in 0..3 {
            for hit in 0..1_000 {
                let instance = &instances[hit % instances.len()];
                if instance.admit(&*counter, &flooded, 1, at(second)).await == Verdict::Admitted {
                    *admitted.entry(("flooded", second)).or_default() += 1;
                }
                if hit % 20 == 0 && instance.admit(&*counter, &quiet, 1, at(second)).await == Verdict::Admitted {
                    *admitted.entry(("quiet", second)).or_default() += 1;
                }
            }
        }
        for second in 0..3 {
            let flooded = admitted[&("flooded", second)];
            assert!((100 - 4 * 5..=100).contains(&flooded), "second {second}: {flooded}");
            assert_eq!(admitted[&("quiet", second)], 50, "the quiet site lost nothing");
        }
        let writes = *counter.writes.lock().unwrap();
        assert!(
            writes < 3 * 2 * 40,
            "one counter write per block, not per hit: {writes}"
        );
    }

    /// Forty hits arriving at once in one instance wait for one claim and spend its block: they do not
    /// each claim a block (which would spend the site's second forty times over and refuse the rest).
    #[tokio::test]
    async fn hits_arriving_together_share_one_claim() {
        let counter = Counter::default();
        let limiter = SiteRateLimiter::new(Some(200));
        let site = SiteId::parse("busy").unwrap();
        let verdicts = futures::future::join_all((0..40).map(|_| limiter.admit(&counter, &site, 1, at(0)))).await;
        assert!(
            verdicts.iter().all(|verdict| *verdict == Verdict::Admitted),
            "{verdicts:?}"
        );
        assert_eq!(*counter.writes.lock().unwrap(), 4, "blocks of 10");
    }

    /// A site spread over four keys takes four times [`HITS_PER_SPREAD`] a second under a lower limit;
    /// the same site with one spread takes the limit.
    #[tokio::test]
    async fn a_spread_site_takes_what_its_spreads_are_for() {
        let counter = Counter::default();
        let limiter = SiteRateLimiter::new(Some(200));
        let site = SiteId::parse("busy").unwrap();
        let mut admitted = [0u32; 2];
        for (second, spreads) in [(0, 4u8), (1, 1)] {
            for _ in 0..3_000 {
                if limiter.admit(&counter, &site, spreads, at(second)).await == Verdict::Admitted {
                    admitted[second as usize] += 1;
                }
            }
        }
        assert_eq!(admitted, [4 * HITS_PER_SPREAD, 200]);
    }

    #[tokio::test]
    async fn no_limit_admits_everything_without_a_write() {
        let counter = Counter::default();
        let limiter = SiteRateLimiter::new(None);
        for _ in 0..100 {
            assert_eq!(
                limiter.admit(&counter, &SiteId::parse("a").unwrap(), 1, at(0)).await,
                Verdict::Admitted
            );
        }
        assert_eq!(*counter.writes.lock().unwrap(), 0);
    }
}
