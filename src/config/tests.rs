//! The configuration read from variables: defaults, every refusal naming its variable.

use switchyard_actors::redis::{Address, Topology};

use super::takers::{MoverKind, MoverSpec};
use super::*;

pub(super) fn address(host: &str, port: u16) -> Address {
    Address {
        host: host.into(),
        port,
    }
}

pub(super) fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
}

#[test]
fn defaults_are_a_main_on_port_8080() {
    let c = config(&[]).unwrap();
    assert_eq!(c.role, Role::Main);
    assert_eq!(c.port, 8080);
    assert_eq!(c.ip.to_string(), "0.0.0.0");
}

#[test]
fn mainip_makes_a_forwarder_unless_ismain_says_main() {
    let main = Role::Forwarder {
        main: "10.0.0.20:8080".into(),
    };
    assert_eq!(config(&[("MAINIP", "10.0.0.20:8080")]).unwrap().role, main);
    let forwarder = config(&[("MAINIP", "10.0.0.20:8080"), ("ISMAIN", "False")]);
    assert_eq!(forwarder.unwrap().role, main);
    for yes in ["true", "True", "1"] {
        let c = config(&[("MAINIP", "10.0.0.20:8080"), ("ISMAIN", yes)]).unwrap();
        assert_eq!(c.role, Role::Main);
    }
}

#[test]
fn malformed_values_name_their_variable() {
    let cases = [
        ("MAINIP", "10.0.0.20"),
        ("MAINIP", "10.0.0.20:http"),
        ("MAINIP", ":8080"),
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("IP", "localhost"),
        ("ISMAIN", "maybe"),
        ("FORWARD_TIMEOUT_MS", "0"),
        ("WORKERS", "-1"),
        ("REDIS_URL", "localhost:6379"),
        ("RECENT_SIZE", "0"),
        ("CACHE_TTL_SECS", "1.5"),
        ("IMAGE_MAX_BYTES", "10MB"),
        ("SPAWN_PORTS", "3099-3001"),
        ("SPAWN_PORTS", "0-10"),
        ("SPAWN_PORTS", "a-b"),
        ("SPAWN_MAX", "0"),
        ("HEARTBEAT_MS", "soon"),
        ("REGISTER_URL", "10.0.0.5:8080"),
        ("PROXY_PORT", "http"),
        ("PROXY_TIMEOUT_MS", "0"),
        ("RECENT_SIZE", "1001"),
        ("RECENT_SIZE", "99999999999999999999999"),
        ("KVS_MAX_BYTES", "0"),
        ("IMAGE_QUEUE_MAX", "-5"),
        ("UPLOADS_MAX", "0"),
        ("CLIENT_TIMEOUT_MS", "0"),
        ("MAX_CONNECTIONS", "none"),
        ("ADMIN_TOKEN", "two words"),
        ("ADVERTISE_HOST", "user@host"),
        ("FILER_EXPIRY", "css$=60;js$"),
        ("FILER_GZIP", "maybe"),
    ];
    for (name, value) in cases {
        let err = config(&[(name, value)]).unwrap_err();
        assert_eq!(err.name, name, "{name}={value}");
        assert!(err.to_string().starts_with(name));
    }
}

#[test]
fn redis_url_and_prefix() {
    let c = config(&[]).unwrap();
    assert_eq!(c.redis, RedisConfig::local("switchyard:"));
    assert_eq!(c.redis.prefix, "switchyard:");
    let c = config(&[("REDIS_PREFIX", "t1:")]).unwrap();
    assert_eq!(c.redis.prefix, "t1:");
    let c = config(&[
        ("REDIS_URL", "redis://:pw@r:7000/2"),
        ("REDIS_PREFIX", "t2:"),
    ])
    .unwrap();
    assert_eq!(c.redis.topology, Topology::Single(address("r", 7000)));
    assert_eq!((c.redis.db, c.redis.prefix.as_str()), (2, "t2:"));
}

#[test]
fn spawn_settings() {
    let c = config(&[]).unwrap();
    assert_eq!((c.spawn_ports, c.spawn_max), (3001..=3099, 16));
    // IP=0.0.0.0: an address others can reach, never the loopback every container has.
    assert!(
        !c.advertise_host.starts_with("127."),
        "{}",
        c.advertise_host
    );
    let c = config(&[("IP", "::1")]).unwrap();
    assert_eq!(c.advertise_host, "[::1]");
    let c = config(&[("SPAWN_PORTS", "4000"), ("IP", "10.1.2.3")]).unwrap();
    assert_eq!(
        (c.spawn_ports, c.advertise_host.as_str()),
        (4000..=4000, "10.1.2.3")
    );
    let c = config(&[("IP", "10.1.2.3"), ("ADVERTISE_HOST", "app.example")]).unwrap();
    assert_eq!(c.advertise_host, "app.example");
    let c = config(&[("REGISTER_URL", "http://10.0.0.5:8080/")]).unwrap();
    assert_eq!(c.register_url.as_deref(), Some("http://10.0.0.5:8080"));
}

#[test]
fn proxy_settings() {
    let c = config(&[]).unwrap();
    assert_eq!(
        (c.proxy_port, c.proxy_timeout),
        (None, Duration::from_secs(30))
    );
    let c = config(&[("PROXY_PORT", "8081"), ("PROXY_TIMEOUT_MS", "2500")]).unwrap();
    assert_eq!(
        (c.proxy_port, c.proxy_timeout),
        (Some(8081), Duration::from_millis(2500))
    );
}

#[test]
fn limits_have_defaults_and_bounds() {
    let c = config(&[]).unwrap();
    assert_eq!(c.kvs_max_bytes, 1 << 30);
    assert_eq!((c.image_queue_max, c.uploads_max), (100, 8));
    assert_eq!(c.client_timeout, Duration::from_secs(10));
    assert!(c.admin_token.is_none());
    let c = config(&[("RECENT_SIZE", "1000"), ("KVS_MAX_BYTES", "4096")]).unwrap();
    assert_eq!((c.recent_size, c.kvs_max_bytes), (1000, 4096));
}

#[test]
fn the_admin_token_never_shows_in_debug_output() {
    let c = config(&[("ADMIN_TOKEN", "s3cret-t0ken-value")]).unwrap();
    assert!(c.admin_token.is_some());
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn every_variable_is_documented() {
    let reference = include_str!("../../docs/configuration.md");
    for name in variables() {
        assert!(reference.contains(&format!("`{name}`")), "{name}");
    }
}

#[test]
fn a_forwarder_needs_mainip() {
    assert_eq!(config(&[("ISMAIN", "False")]).unwrap_err().name, "ISMAIN");
}

#[test]
fn mainip_accepts_names_and_ipv6() {
    assert!(config(&[("MAINIP", "kvs-main:8080")]).is_ok());
    assert!(config(&[("MAINIP", "[::1]:8080")]).is_ok());
}

#[test]
fn a_mover_needs_its_input_and_its_outputs_and_no_output_may_be_its_input() {
    let only_input = config(&[("LPUSH_IN", "in")]).unwrap_err();
    assert_eq!(
        (only_input.name, only_input.value.as_str()),
        ("LPUSH_IN", "in")
    );
    let only_outputs = config(&[("MPUSH_OUT", "a,b")]).unwrap_err();
    assert_eq!(
        (only_outputs.name, only_outputs.value.as_str()),
        ("MPUSH_OUT", "a,b")
    );
    let circle = config(&[("MBALANCE_IN", "in"), ("MBALANCE_OUT", "a,in")]).unwrap_err();
    assert_eq!(circle.name, "MBALANCE_OUT");
    let takers = config(&[("MBALANCE_IN", "in"), ("MBALANCE_OUT", "a,b")])
        .unwrap()
        .takers;
    assert_eq!(
        takers,
        [TakerSpec::Mover(MoverSpec {
            kind: MoverKind::Mbalance,
            input: "in".into(),
            outputs: vec!["a".into(), "b".into()],
        })]
    );
}

#[test]
fn vpush_needs_all_three_variables_and_a_well_formed_url() {
    let partial = config(&[("VPUSH_IN", "in"), ("VPUSH_OUT", "out")]).unwrap_err();
    assert_eq!(partial.name, "VPUSH_URL");
    let malformed = config(&[
        ("VPUSH_IN", "in"),
        ("VPUSH_URL", "localhost:6380"),
        ("VPUSH_OUT", "out"),
    ])
    .unwrap_err();
    // A URL may hold a password: named, with what is wrong, never shown.
    assert_eq!(
        (malformed.name, malformed.value.as_str()),
        ("VPUSH_URL", "")
    );
    assert!(
        malformed
            .to_string()
            .contains("it must start with redis://"),
        "{malformed}"
    );
    let takers = config(&[
        ("REDIS_PREFIX", "here:"),
        ("VPUSH_IN", "in"),
        ("VPUSH_URL", "redis://10.0.0.9:6380/2"),
        ("VPUSH_OUT", "out"),
    ])
    .unwrap()
    .takers;
    let [TakerSpec::Vpush(vpush)] = takers.as_slice() else {
        panic!("one vpush: {takers:?}");
    };
    assert_eq!((vpush.input.as_str(), vpush.output.as_str()), ("in", "out"));
    let remote = Topology::Single(address("10.0.0.9", 6380));
    assert_eq!((&vpush.remote.topology, vpush.remote.db), (&remote, 2));
    assert_eq!(vpush.remote.variable, "VPUSH_URL");
    // The remote's prefix is this one's unless VPUSH_PREFIX says otherwise.
    assert_eq!(vpush.remote.prefix, "here:");
}

#[test]
fn the_public_namespace_shares_no_key_with_switchyard_s_own() {
    assert_eq!(config(&[]).unwrap().public_namespace, "public:");
    assert_eq!(
        config(&[("PUBLIC_NAMESPACE", "site:")])
            .unwrap()
            .public_namespace,
        "site:"
    );
    let refusals = [
        vec![("PUBLIC_NAMESPACE", "gateway:")],
        vec![("PUBLIC_NAMESPACE", "service:")],
        vec![("PUBLIC_NAMESPACE", "ndeploy:req:1")],
        vec![("PUBLIC_NAMESPACE", "q"), ("WORKER_QUEUES", "jobs,queue")],
        vec![("PUBLIC_NAMESPACE", "conf"), (CONFIG_HASH, "config")],
        vec![
            ("PUBLIC_NAMESPACE", "out:busy:"),
            ("LPUSH_IN", "in"),
            ("LPUSH_OUT", "out"),
        ],
        vec![
            ("PUBLIC_NAMESPACE", "orders"),
            ("GATEWAY_ROUTES", "^/o/=orders"),
        ],
        vec![("PUBLIC_NAMESPACE", "two words")],
    ];
    for vars in refusals {
        let err = config(&vars).unwrap_err();
        assert_eq!(err.name, "PUBLIC_NAMESPACE", "{vars:?}");
    }
    // A blank CONFIG_HASH names no hash.
    assert!(config(&[(CONFIG_HASH, " ")]).is_ok());
    let err = config(&[("PUBLIC_NAMESPACE", "gateway:")]).unwrap_err();
    assert!(
        err.to_string().contains("shares \"gateway:reply:\""),
        "{err}"
    );
}

#[test]
fn a_refused_secret_is_named_and_never_shown() {
    let cases = [
        ("REDIS_URL", "redis://:hunter2-secret@cache:port/0", "port"),
        ("REDIS_URL", "http://:hunter2-secret@cache", "redis://"),
        ("VPUSH_URL", "rediss//:hunter2-secret@x", "not a URL"),
        (
            "ADMIN_TOKEN",
            "hunter2-secret with a space",
            "visible ASCII",
        ),
        ("MONITOR_TOKEN", "hunter2-secret\u{7}", "visible ASCII"),
    ];
    for (name, value, why) in cases {
        let mut vars = vec![(name, value)];
        if name == "VPUSH_URL" {
            vars.extend([("VPUSH_IN", "in"), ("VPUSH_OUT", "out")]);
        }
        let err = config(&vars).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.name, name);
        assert!(text.starts_with(name), "{text}");
        assert!(text.contains(why), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
}
