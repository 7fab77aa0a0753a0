//! hfiler's settings: how long files are kept (`FILER_EXPIRY`, `FILER_TTL_SECS`) and whether
//! they are compressed (`FILER_GZIP`). Read whether or not `FILER_QUEUE` is set, so a bad value
//! stops the program either way.

use std::time::Duration;

use switchyard_actors::web::expiry::Expiry;
use switchyard_actors::web::filer::FilerSettings;

use super::env::{parse_bool, secs, Env};
use super::ConfigError;

/// `FILER_TTL_SECS` when unset.
const DEFAULT_TTL: Duration = Duration::from_secs(60);

pub fn settings<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<FilerSettings, ConfigError> {
    let ttl = env.parsed("FILER_TTL_SECS", "whole seconds above 0", secs)?;
    let ttl = ttl.unwrap_or(DEFAULT_TTL);
    let expected = "<regex>=<seconds> rules separated by ; (a ; in a regex written \\x3B)";
    let expiry = env.parsed_or_why("FILER_EXPIRY", expected, |rules| {
        Expiry::parse(rules, ttl).map_err(|bad| bad.to_string())
    })?;
    let gzip = env.parsed("FILER_GZIP", "true or false", parse_bool)?;
    Ok(FilerSettings {
        expiry: expiry.unwrap_or_else(|| Expiry::default_only(ttl)),
        gzip: gzip.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<FilerSettings, ConfigError> {
        settings(&Env(|name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }))
    }

    #[test]
    fn expiry_rules_fall_back_on_the_ttl_and_gzip_is_on_by_default() {
        let defaults = read(&[]).unwrap();
        assert!(defaults.gzip);
        assert_eq!(defaults.expiry.lifetime("/a.css"), DEFAULT_TTL);
        let set = read(&[
            ("FILER_EXPIRY", r"\.css$=3600;^/static/=0"),
            ("FILER_TTL_SECS", "90"),
            ("FILER_GZIP", "false"),
        ])
        .unwrap();
        assert!(!set.gzip);
        let lifetime = |path| set.expiry.lifetime(path).as_secs();
        let lifetimes = [
            lifetime("/static/a.css"),
            lifetime("/static/a.js"),
            lifetime("/a.js"),
        ];
        assert_eq!(lifetimes, [3600, 0, 90]);
    }

    #[test]
    fn a_bad_filer_expiry_is_refused_naming_the_variable_and_the_rule() {
        for (rules, named) in [
            (r"\.css$=60;\.js$", r#"rule 2 "\\.js$": no `=`"#),
            ("(unclosed=60", r#"rule 1 "(unclosed=60""#),
            ("a=1;;b=2", r#"rule 2 "": an empty rule"#),
            ("a=soon", r#"rule 1 "a=soon": seconds"#),
        ] {
            let err = read(&[("FILER_EXPIRY", rules)]).unwrap_err();
            assert_eq!((err.name, err.value.as_str()), ("FILER_EXPIRY", rules));
            assert!(err.to_string().contains(named), "{err}");
        }
        let err = read(&[("FILER_GZIP", "maybe")]).unwrap_err();
        assert_eq!(err.name, "FILER_GZIP");
    }
}
