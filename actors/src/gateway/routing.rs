//! Routing by URL (the notes' `hrouter`): [`RouteTable`] picks a request's queue by the first
//! regular expression that matches its path; [`RouterJob`] is the standalone router, a
//! [`Job`](super::job::Job) that moves each request to its queue.

use std::rc::Rc;

use futures_util::future::{ready, LocalBoxFuture};
use regex::Regex;

use super::job::{Job, Outcome};
use super::message::GatewayRequest;
use crate::redis::Keys;

/// `GATEWAY_ROUTES` as written: `regex=queue;regex=queue`, queue names without the prefix.
#[derive(Debug, Clone, Default)]
pub struct RouteRules(Vec<(Regex, String)>);

/// What in `GATEWAY_ROUTES` could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRoute {
    /// The rule, or its expression when that does not compile.
    pub rule: String,
    pub why: String,
}

impl RouteRules {
    /// Rules separated by `;`, each `regex=queue`; the last `=` of a rule separates them, so
    /// an expression may hold `=`. Empty rules are skipped.
    pub fn parse(spec: &str) -> Result<Self, BadRoute> {
        let mut rules = Vec::new();
        for rule in spec.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let Some((pattern, queue)) = rule.rsplit_once('=') else {
                return Err(BadRoute {
                    rule: rule.to_owned(),
                    why: "expected regex=queue".into(),
                });
            };
            let queue = queue.trim();
            if !is_list_name(queue) {
                return Err(BadRoute {
                    rule: rule.to_owned(),
                    why: "the queue name must be 1 to 200 visible characters".into(),
                });
            }
            let regex = Regex::new(pattern).map_err(|err| BadRoute {
                rule: pattern.to_owned(),
                why: err.to_string(),
            })?;
            rules.push((regex, queue.to_owned()));
        }
        Ok(Self(rules))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The queues the rules name, without the prefix.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, queue)| queue.as_str())
    }
}

/// A list or hash name a variable may give: 1 to 200 visible ASCII characters.
pub fn is_list_name(name: &str) -> bool {
    (1..=200).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

/// The rules with their queues as full keys, and where the rest goes.
#[derive(Debug, Clone)]
pub struct RouteTable {
    rules: Vec<(Regex, String)>,
    fallback: String,
}

impl RouteTable {
    /// Every request to `fallback`: for tests.
    #[cfg(test)]
    pub(crate) fn only(fallback: String) -> Self {
        Self {
            rules: Vec::new(),
            fallback,
        }
    }

    /// `fallback` is a full key.
    pub fn new(rules: &RouteRules, keys: &Keys, fallback: String) -> Self {
        Self {
            rules: rules
                .0
                .iter()
                .map(|(regex, queue)| (regex.clone(), keys.named(queue)))
                .collect(),
            fallback,
        }
    }

    /// The full key of the queue `path` goes to.
    pub fn queue_for(&self, path: &str) -> &str {
        self.rules
            .iter()
            .find(|(regex, _)| regex.is_match(path))
            .map_or(self.fallback.as_str(), |(_, queue)| queue.as_str())
    }
}

/// The standalone router (`ROUTER_IN`): each request, unchanged, onto its route's queue.
pub struct RouterJob(pub RouteTable);

impl Job for RouterJob {
    fn handle(&self, raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let outcome = Outcome {
            destination: self.0.queue_for(&request.path).to_owned(),
            message: raw.as_bytes().to_vec(),
            expire_ms: None,
            answered: None,
        };
        Box::pin(ready(outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_picks_the_queue_and_the_rest_go_to_the_fallback() {
        let rules = RouteRules::parse("^/static/=files; ^/api/(v=1)?=api ;").unwrap();
        let keys = Keys::new("p:", false);
        let routes = RouteTable::new(&rules, &keys, "p:gateway:req".into());
        assert_eq!(routes.queue_for("/static/a.css"), "p:files");
        assert_eq!(routes.queue_for("/api/v=1"), "p:api");
        assert_eq!(routes.queue_for("/other"), "p:gateway:req");
    }

    #[test]
    fn an_invalid_expression_is_named() {
        let err = RouteRules::parse("^/ok/=a;^/(unclosed=b").unwrap_err();
        assert_eq!(err.rule, "^/(unclosed");
        assert!(RouteRules::parse("no-equals-sign").is_err());
        assert!(RouteRules::parse("^/=").is_err());
        assert!(RouteRules::parse("").unwrap().is_empty());
    }
}
