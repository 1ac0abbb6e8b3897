//! Domain core of the analytics backend.
//!
//! Everything here is independent of AWS: validated identifiers ([`SiteId`]), the tracker wire format
//! ([`hit`]), server-side enrichment ([`enrich`]) and bot detection ([`bot`]), the stored event shape
//! ([`event`]), the store ports ([`ports`]) and the collect use case ([`collect`]) that ties them
//! together. Adapters (DynamoDB) and handlers (Lambda) live in other crates.

pub mod admission;
pub mod bot;
pub mod collect;
pub mod enrich;
pub mod event;
pub mod goal;
pub mod hit;
pub mod live;
pub mod number;
pub mod origin;
pub mod ports;
pub mod rate;
pub mod realtime;
pub mod revocation;
pub mod site;
pub mod site_cache;
pub mod spread;
pub mod time;

#[cfg(feature = "memory-store")]
pub mod hooked;
#[cfg(feature = "memory-store")]
pub mod memory;

pub use collect::{CollectConfig, CollectError, CollectRequest, Collected, Collector};
pub use event::{EventDetail, EventId, EventKind, EventSlot, PropValue, StoredEvent};
pub use hit::{HitError, ParsedHit, ValidHit};
pub use ports::{EventStore, PutOutcome, RealtimeStore, RollupStore, SaltStore, SiteDirectory, StoreError};
pub use site::{ReadToken, Site, SiteId, SiteIdError, TokenHash};
