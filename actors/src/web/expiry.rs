//! hfiler's expiry rules (`FILER_EXPIRY`): how long a file is kept in Redis and may be cached by
//! clients, by the first regular expression that matches its path; `FILER_TTL_SECS` when none
//! does. They stand in for the notes' "programmable expiry via a configurable Node module".

use std::fmt;
use std::time::Duration;

use regex::{Regex, RegexBuilder};

/// The most rules `FILER_EXPIRY` may hold: each is tried in turn on every request.
pub const MAX_RULES: usize = 64;

/// The longest expression a rule may have, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// The longest lifetime a rule may give: a year, the longest `max-age` worth sending (RFC 9111
/// suggests no more), and far below what Redis's `EXPIRE` refuses.
pub const MAX_SECS: u64 = 365 * 24 * 60 * 60;

/// A compiled expression's memory, bounded well below the crate's default of 10 MiB per rule.
const COMPILED_SIZE_LIMIT: usize = 1 << 20;

/// The rules, in order, and the lifetime when none matches.
#[derive(Debug, Clone)]
pub struct Expiry {
    rules: Vec<(Regex, Duration)>,
    default: Duration,
}

/// A rule of `FILER_EXPIRY` that could not be read: which one, as written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadExpiryRule {
    /// From 1, in the order written.
    pub number: usize,
    pub rule: String,
    pub why: String,
}

impl fmt::Display for BadExpiryRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} {:?}: {}", self.number, self.rule, self.why)
    }
}

impl Expiry {
    /// Every path gets `default`.
    pub fn default_only(default: Duration) -> Self {
        Self {
            rules: Vec::new(),
            default,
        }
    }

    /// `spec` is `<regex>=<seconds>;<regex>=<seconds>...`: rules separated by `;`, each split at
    /// its last `=`, so an expression may hold `=` as it is; a `;` in one is written `\x3B`.
    /// Spaces around a rule are ignored. An empty rule (`;;`, or a `;` at either end), an
    /// empty expression, more than [`MAX_RULES`] rules, an expression that does not compile or is
    /// over [`MAX_PATTERN_LEN`], and seconds that are not a whole number up to [`MAX_SECS`] are
    /// refused.
    pub fn parse(spec: &str, default: Duration) -> Result<Self, BadExpiryRule> {
        let mut rules = Vec::new();
        for (index, rule) in spec.split(';').map(str::trim).enumerate() {
            let refuse = |why: &str| BadExpiryRule {
                number: index + 1,
                rule: rule.to_owned(),
                why: why.to_owned(),
            };
            if index == MAX_RULES {
                return Err(refuse(&format!("more than {MAX_RULES} rules")));
            }
            if rule.is_empty() {
                return Err(refuse("an empty rule: two `;` in a row, or one at an end"));
            }
            let Some((pattern, secs)) = rule.rsplit_once('=') else {
                return Err(refuse("no `=`: a rule is <regex>=<seconds>"));
            };
            let secs = secs.trim();
            let secs = Some(secs)
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|s| *s <= MAX_SECS)
                .ok_or_else(|| {
                    refuse(&format!(
                        "seconds must be a whole number from 0 to {MAX_SECS}"
                    ))
                })?;
            if pattern.is_empty() {
                return Err(refuse(
                    "an empty expression: FILER_TTL_SECS is for every other path",
                ));
            }
            if pattern.len() > MAX_PATTERN_LEN {
                return Err(refuse(&format!(
                    "an expression longer than {MAX_PATTERN_LEN} bytes"
                )));
            }
            let regex = RegexBuilder::new(pattern)
                .size_limit(COMPILED_SIZE_LIMIT)
                .build()
                .map_err(|err| refuse(&err.to_string()))?;
            rules.push((regex, Duration::from_secs(secs)));
        }
        Ok(Self { rules, default })
    }

    /// How long the file at `path` (as `/static/app.css`) is kept and cached: the first
    /// matching rule's lifetime, or the default. Zero: not kept in Redis at all.
    pub fn lifetime(&self, path: &str) -> Duration {
        self.rules
            .iter()
            .find(|(regex, _)| regex.is_match(path))
            .map_or(self.default, |(_, lifetime)| *lifetime)
    }
}

/// Equal when they read alike: the same expressions, lifetimes and default.
impl PartialEq for Expiry {
    fn eq(&self, other: &Self) -> bool {
        let written = |e: &Self| {
            e.rules
                .iter()
                .map(|(regex, lifetime)| (regex.as_str().to_owned(), *lifetime))
                .collect::<Vec<_>>()
        };
        self.default == other.default && written(self) == written(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_first_matching_rule_wins_and_the_default_takes_the_rest() {
        let expiry = Expiry::parse(r"\.css$=3600; ^/static/=600 ;\.html$=0", MINUTE).unwrap();
        assert_eq!(expiry.lifetime("/static/app.css"), secs(3600));
        assert_eq!(expiry.lifetime("/static/app.js"), secs(600));
        assert_eq!(expiry.lifetime("/index.html"), secs(0));
        assert_eq!(expiry.lifetime("/other.txt"), MINUTE);
        assert_eq!(Expiry::default_only(MINUTE).lifetime("/a.css"), MINUTE);
    }

    #[test]
    fn an_expression_may_hold_an_equals_sign_and_a_semicolon_written_as_an_escape() {
        let expiry = Expiry::parse(r"v=2=30;^/a\x3Bb=40", MINUTE).unwrap();
        assert_eq!(expiry.lifetime("/app.css;v=2"), secs(30));
        assert_eq!(expiry.lifetime("/a;b"), secs(40));
        assert_eq!(expiry.lifetime("/a_b"), MINUTE);
    }

    #[test]
    fn every_bad_rule_is_refused_naming_it() {
        let long = format!("{}=5", "a".repeat(MAX_PATTERN_LEN + 1));
        let too_many = vec!["a=1"; MAX_RULES + 1].join(";");
        let cases = [
            ("a=1;nothing", 2, "no `=`"),
            ("a=1;(unclosed=5", 2, "unclosed"),
            ("a=1.5", 1, "whole number"),
            ("a=-1", 1, "whole number"),
            ("a=+1", 1, "whole number"),
            ("a=", 1, "whole number"),
            ("a=99999999999999999999999", 1, "whole number"),
            ("a=31536001", 1, "whole number"),
            ("a=1;;b=2", 2, "empty rule"),
            ("a=1;", 2, "empty rule"),
            ("=5", 1, "empty expression"),
            (long.as_str(), 1, "longer than"),
            (too_many.as_str(), MAX_RULES + 1, "more than 64"),
            (r"\w{1000}{1000}=5", 1, "size limit"),
        ];
        for (spec, number, why) in cases {
            let err = Expiry::parse(spec, MINUTE).unwrap_err();
            assert_eq!(err.number, number, "{spec}: {err}");
            assert!(err.why.contains(why), "{spec}: {err}");
            assert!(
                err.to_string().starts_with(&format!("rule {number} ")),
                "{err}"
            );
        }
        assert!(Expiry::parse(&vec!["a=1"; MAX_RULES].join(";"), MINUTE).is_ok());
    }
}
