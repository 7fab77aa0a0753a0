//! Where Redis is: `REDIS_URL` (any topology, docs/redis-topologies.md), `REDIS_CA_FILE`
//! for `rediss` servers of a private CA, and `REDIS_WAIT_REPLICAS`; `VPUSH_URL` is read with
//! vpush's variables (takers.rs) and settled here with the rest.

use switchyard_actors::redis::{RedisConfig, TlsRoots};

use super::env::{within, Env};
use super::{Config, ConfigError, TakerSpec, REDIS_URL_FORM};

/// `REDIS_CA_FILE`: the only roots `rediss` servers are checked against, when set.
pub fn read_roots<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<Option<TlsRoots>, ConfigError> {
    env.parsed_or_why("REDIS_CA_FILE", "a PEM file of CA certificates", |v| {
        TlsRoots::from_pem_file(v)
    })
}

/// `REDIS_URL`, the local Redis when unset.
pub fn read_url<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    prefix: &str,
    roots: Option<&TlsRoots>,
) -> Result<RedisConfig, ConfigError> {
    Ok(env
        .parsed_or_why("REDIS_URL", REDIS_URL_FORM, |v| {
            RedisConfig::parse(v, prefix, roots)
        })?
        .unwrap_or_else(|| RedisConfig::local(prefix)))
}

/// What holds across `REDIS_URL` and `VPUSH_URL`: `REDIS_WAIT_REPLICAS` for
/// `REDIS_URL`, and a `REDIS_CA_FILE` only where a `rediss` URL uses it.
pub fn settle<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    config: &mut Config,
    ca_file_given: bool,
) -> Result<(), ConfigError> {
    let wait_replicas = env.parsed(
        "REDIS_WAIT_REPLICAS",
        "a number of replicas from 0 to 16",
        within(0..=16_u32),
    )?;
    let mut every = vec![("REDIS_URL", &mut config.redis)];
    for taker in &mut config.takers {
        if let TakerSpec::Vpush(vpush) = taker {
            every.push(("VPUSH_URL", &mut vpush.remote));
        }
    }
    // Only REDIS_URL's: VPUSH_URL's remote keeps what its own topology implies.
    if let Some(wanted) = wait_replicas {
        every[0].1.wait_replicas = wanted;
    }
    if ca_file_given && every.iter().all(|(_, redis)| redis.tls.is_none()) {
        return Err(ConfigError::new(
            "REDIS_CA_FILE",
            env.0("REDIS_CA_FILE").unwrap_or_default(),
            "to be set only with a TLS URL (rediss...) in REDIS_URL or VPUSH_URL".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{address, config};
    use switchyard_actors::redis::Topology;

    #[test]
    fn redis_topologies_and_their_refusals_name_the_variable() {
        let c = config(&[("REDIS_URL", "redis-sentinel://s1,s2:5000/main")]).unwrap();
        let sentinels = vec![address("s1", 26379), address("s2", 5000)];
        let master = "main".to_owned();
        assert_eq!(c.redis.topology, Topology::Sentinel { sentinels, master });
        for (name, value) in [
            ("REDIS_URL", "redis-sentinel://s1:26379"),
            ("REDIS_URL", "memcached://h:1"),
            ("REDIS_URL", "redis-cluster://n1:7000/3"),
            ("VPUSH_URL", "redis://a:1,b:2"),
            ("REDIS_CA_FILE", "/nonexistent/ca.pem"),
        ] {
            let mut vars = vec![(name, value)];
            if name == "VPUSH_URL" {
                vars.extend([("VPUSH_IN", "in"), ("VPUSH_OUT", "out")]);
            }
            let err = config(&vars).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
    }

    #[test]
    fn a_ca_file_needs_a_tls_url_and_holds_certificates() {
        let dir = std::env::temp_dir().join(format!("switchyard-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let empty = empty.to_str().unwrap();
        let err = config(&[("REDIS_CA_FILE", empty), ("REDIS_URL", "rediss://h:1")]).unwrap_err();
        assert_eq!(err.name, "REDIS_CA_FILE");
        assert!(err.to_string().contains("holds no certificate"), "{err}");
        // A file of certificates, but nothing uses TLS.
        let certificate = dir.join("ca.pem");
        std::fs::write(&certificate, TEST_CERTIFICATE).unwrap();
        let certificate = certificate.to_str().unwrap();
        let err = config(&[("REDIS_CA_FILE", certificate)]).unwrap_err();
        assert_eq!(err.name, "REDIS_CA_FILE");
        let c = config(&[
            ("REDIS_CA_FILE", certificate),
            ("REDIS_URL", "rediss://h:1"),
        ])
        .unwrap();
        assert!(c.redis.tls.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A self-signed CA certificate (`openssl req -x509 -newkey ec ...`), used only as a root.
    const TEST_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUJmvd8nM1rE3mR5zD0XJhmEOFNlwwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSc3dpdGNoeWFyZC10ZXN0LWNhMCAXDTI2MTIwNjAyNDMwM1oY
DzIxMjYxMTEyMDI0MzAzWjAdMRswGQYDVQQDDBJzd2l0Y2h5YXJkLXRlc3QtY2Ew
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARs+W0noMWo7hfH8YnP1WloNK2R9Dgd
yrfb35f96GJHli13ejkIQKqlnupsaqQNi3q0vyPzPJAwPFQfopEOfySSo1MwUTAd
BgNVHQ4EFgQUmRdt4ciV7khpoPI69aZl5shR4qMwHwYDVR0jBBgwFoAUmRdt4ciV
7khpoPI69aZl5shR4qMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiAtzts3AUEw421EcVzSKv1z78BT0y6aQpOpoV7VSTFi5AIhAMXuWwsjHoWEPc3z
uptx8Jf5GWituHFXzFaHoAtgvogY
-----END CERTIFICATE-----
";
}
