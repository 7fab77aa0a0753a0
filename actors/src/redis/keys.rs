//! [`Keys`]: every Redis key switchyard uses, each under the configured prefix; [`PublicKeys`]:
//! the public namespace under it, the only keys a client may read (`/rquery`, hrender).

use std::sync::Arc;

use super::beside::{beside, VPUSH_MARKS};

/// The names switchyard gives its own keys, under the prefix; one ending in `:` or `/` starts a
/// family of keys. A public namespace may share none of them ([`namespace_overlap`]).
const OWN_KEYS: [&str; 16] = [
    MESSAGE,
    VISITS,
    IMAGES,
    SERVERS,
    REPLICAS,
    GATEWAY_REPLIES,
    FILER,
    METRICS,
    SERVICE,
    SERVICES,
    NDEPLOY_REQUESTS,
    NDEPLOY_RESULTS,
    NDEPLOY_SEQ,
    NDEPLOY_FINISHED,
    WORKERS,
    VPUSH_MARKS,
];
/// The cache's message; also, under `message:`, the messages tracked (`message:id` the counter,
/// `message:<id>` a hash, `message:xid:<xid>`, `message:checked`, `message:timeouts`).
const MESSAGE: &str = "message";
const MESSAGES: &str = "message:";
const VISITS: &str = "visits";
const IMAGES: &str = "images";
/// Also `servers:changed`.
const SERVERS: &str = "servers";
/// Also `replicas:lease`.
const REPLICAS: &str = "replicas";
const GATEWAY_REPLIES: &str = "gateway:reply:";
const FILER: &str = "filer:/";
const METRICS: &str = "metrics:";
/// `service:<id>` and `service:seq`.
const SERVICE: &str = "service:";
const SERVICES: &str = "services";
const NDEPLOY_REQUESTS: &str = "ndeploy:req:";
const NDEPLOY_RESULTS: &str = "ndeploy:res:";
/// As the notes name it: the counter lives beside the requests.
const NDEPLOY_SEQ: &str = "ndeploy:req:id";
/// The ids of finished deployments, newest first, for a client's `BRPOP`.
const NDEPLOY_FINISHED: &str = "ndeploy:res";
const WORKERS: &str = "workers";

/// The public namespace by default, under the prefix: `/rquery/get/foo` reads
/// `<prefix>public:foo`.
pub const DEFAULT_PUBLIC_NAMESPACE: &str = "public:";

/// The first of switchyard's own keys, or of `lists` (the lists, hashes and queues a
/// configuration names, without the prefix; their vpush keys, and busy lists under their
/// earlier name, start with their names; busy lists under today's name start with `{`,
/// refused below), that a key under `namespace` could be, or be under: `None` when the
/// namespace is apart from all of them. An empty namespace overlaps everything.
pub fn namespace_overlap<'a>(
    namespace: &str,
    lists: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    if namespace.is_empty() {
        return Some("every key".to_owned());
    }
    // Under an empty prefix, a busy list (`{<queue>}:busy:<id>`) starts with `{`.
    if namespace.starts_with('{') {
        return Some("a busy list ({<queue>}:busy:<worker>)".to_owned());
    }
    OWN_KEYS
        .into_iter()
        .chain(lists)
        .find(|own| own.starts_with(namespace) || namespace.starts_with(own))
        .map(str::to_owned)
}

/// The keys of the public namespace: `<prefix><namespace><name>`.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    /// The prefix and the namespace.
    start: Arc<str>,
}

impl PublicKeys {
    /// The full key of `name`, a key a client named.
    pub fn key(&self, name: &str) -> String {
        let mut key = String::with_capacity(self.start.len() + name.len());
        key.push_str(&self.start);
        key.push_str(name);
        key
    }
}

/// Every Redis key switchyard uses, each under the configured prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Arc<str>,
    /// What every tracked message's key starts with: `<prefix>message:`, or on a cluster
    /// `{<prefix>message}:`, so that the monitor's walk over consecutive ids and the scripts
    /// that write a batch of them run in one slot.
    tracking: Arc<str>,
}

impl Keys {
    /// `one_slot_for_tracking` on a cluster ([`Keys::tracked_messages`]).
    pub(crate) fn new(prefix: &str, one_slot_for_tracking: bool) -> Self {
        let tracking = if one_slot_for_tracking {
            beside(&format!("{prefix}message"), ":")
        } else {
            format!("{prefix}{MESSAGES}")
        };
        Self {
            prefix: prefix.into(),
            tracking: tracking.into(),
        }
    }

    /// The cache's self-destructing message (`/set`, `/get`).
    pub fn message(&self) -> String {
        format!("{}{MESSAGE}", self.prefix)
    }

    /// The counter that gives each tracked message its id.
    pub fn tracked_seq(&self) -> String {
        format!("{}id", self.tracking)
    }

    /// What every tracked message's hash key starts with: `<this><id>`.
    pub fn tracked_messages(&self) -> String {
        self.tracking.to_string()
    }

    /// Tracked message `id`'s hash (`timestamp`, `xid`, `deadline`, `queue`, `gateway`, then
    /// `done`, `status`, `service`).
    pub fn tracked_message(&self, id: u64) -> String {
        format!("{}{id}", self.tracked_messages())
    }

    /// What every client-given xid's key starts with: `<this><xid>` holds the id of the latest
    /// message that carried it.
    pub fn tracked_xids(&self) -> String {
        format!("{}xid:", self.tracking)
    }

    /// The last id the timeout monitor has looked at.
    pub fn tracked_checked(&self) -> String {
        format!("{}checked", self.tracking)
    }

    /// The ids of the latest messages found past their deadline unanswered, newest first.
    pub fn tracked_timeouts(&self) -> String {
        format!("{}timeouts", self.tracking)
    }

    /// The latest visits (`/recent`): a sorted set scored by when each arrived.
    pub fn recent_visits(&self) -> String {
        format!("{}{VISITS}", self.prefix)
    }

    /// The queue of uploaded images, newest first (`/upload`, `/meow`).
    pub fn image_queue(&self) -> String {
        format!("{}{IMAGES}", self.prefix)
    }

    /// The registry of app servers: a sorted set of URLs scored by when they lapse.
    pub fn servers(&self) -> String {
        format!("{}{SERVERS}", self.prefix)
    }

    /// The declared number of app servers the replica controller keeps.
    pub fn replicas(&self) -> String {
        format!("{}{REPLICAS}", self.prefix)
    }

    /// The lease of the one instance that controls the replicas.
    pub fn replicas_lease(&self) -> String {
        format!("{}{REPLICAS}:lease", self.prefix)
    }

    /// The channel on which every change to the registry is announced.
    pub fn servers_changed(&self) -> String {
        format!("{}{SERVERS}:changed", self.prefix)
    }

    /// The public namespace `namespace` (checked with [`namespace_overlap`]).
    pub fn public(&self, namespace: &str) -> PublicKeys {
        PublicKeys {
            start: format!("{}{namespace}", self.prefix).into(),
        }
    }

    /// A list or hash a variable names (`GATEWAY_QUEUE`, `WORKER_QUEUES`, ...).
    pub fn named(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The list one gateway's responses are pushed onto.
    pub fn gateway_replies(&self, gateway_id: &str) -> String {
        format!("{}{GATEWAY_REPLIES}{gateway_id}", self.prefix)
    }

    /// A file `hfiler` keeps for a while, by its path under the root (`static/app.css`).
    pub fn filer(&self, path: &str) -> String {
        format!("{}{FILER}{path}", self.prefix)
    }

    /// The metrics of one operation (`gateway`, `worker`, ...), every process's added.
    pub fn metrics(&self, operation: &str) -> String {
        format!("{}{METRICS}{operation}", self.prefix)
    }

    /// The counter that gives each process its service id.
    pub fn service_seq(&self) -> String {
        format!("{}{SERVICE}seq", self.prefix)
    }

    /// What every service id's hash key starts with.
    pub fn service_prefix(&self) -> String {
        format!("{}{SERVICE}", self.prefix)
    }

    /// The registration of service `id`: a hash that lapses unless renewed.
    pub fn service(&self, id: u64) -> String {
        format!("{}{SERVICE}{id}", self.prefix)
    }

    /// The live service ids, scored by when each lapses.
    pub fn services(&self) -> String {
        format!("{}{SERVICES}", self.prefix)
    }

    /// The counter that gives each deployment request its id.
    pub fn ndeploy_seq(&self) -> String {
        format!("{}{NDEPLOY_SEQ}", self.prefix)
    }

    /// What every deployment request's key starts with.
    pub fn ndeploy_requests(&self) -> String {
        format!("{}{NDEPLOY_REQUESTS}", self.prefix)
    }

    /// Deployment `id`'s request: a hash (`git`, `branch`, `commit`, `tag`).
    pub fn ndeploy_request(&self, id: u64) -> String {
        format!("{}{id}", self.ndeploy_requests())
    }

    /// What every deployment result's key starts with.
    pub fn ndeploy_results(&self) -> String {
        format!("{}{NDEPLOY_RESULTS}", self.prefix)
    }

    /// Deployment `id`'s result: a hash (`deployDir`, `cloned`, ... or `error`).
    pub fn ndeploy_result(&self, id: u64) -> String {
        format!("{}{id}", self.ndeploy_results())
    }

    /// The list each finished deployment's id is pushed onto (left), for a client to `BRPOP`.
    pub fn ndeploy_finished(&self) -> String {
        format!("{}{NDEPLOY_FINISHED}", self.prefix)
    }

    /// The gateway workers' registrations: a sorted set of worker ids scored by when they
    /// lapse.
    pub fn workers(&self) -> String {
        format!("{}{WORKERS}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_prefix() {
        let keys = Keys::new("p:", false);
        let all = [
            keys.message(),
            keys.recent_visits(),
            keys.image_queue(),
            keys.servers(),
            keys.servers_changed(),
            keys.named("q"),
            keys.gateway_replies("g"),
            keys.workers(),
        ];
        for key in all {
            assert!(key.starts_with("p:"), "{key}");
        }
    }

    #[test]
    fn on_a_cluster_every_tracking_key_shares_one_slot() {
        let apart = Keys::new("p:", false);
        assert_eq!(apart.tracked_message(7), "p:message:7");
        let keys = Keys::new("p:", true);
        let all = [
            keys.tracked_seq(),
            keys.tracked_message(7),
            keys.tracked_message(8),
            format!("{}order-1", keys.tracked_xids()),
            keys.tracked_checked(),
            keys.tracked_timeouts(),
        ];
        assert_eq!(all[1], "{p:message}:7");
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert!(super::super::same_slot(&all), "{all:?}");
    }

    #[test]
    fn a_public_namespace_may_share_no_key_with_switchyard_s_own() {
        let lists = ["gateway:req", "orders"];
        assert_eq!(namespace_overlap("public:", lists), None);
        assert_eq!(namespace_overlap("pub", lists), None);
        for (namespace, overlapping) in [
            ("", "every key"),
            ("s", "servers"),
            ("service:", "service:"),
            ("ndeploy:req:7", "ndeploy:req:"),
            ("gateway:", "gateway:reply:"),
            ("gateway:req:busy:", "gateway:req"),
            ("ord", "orders"),
            ("filer:/static/", "filer:/"),
        ] {
            assert_eq!(
                namespace_overlap(namespace, lists).as_deref(),
                Some(overlapping),
                "{namespace}"
            );
        }
        let keys = Keys::new("p:", false);
        assert_eq!(keys.public("public:").key("foo"), "p:public:foo");
    }
}
