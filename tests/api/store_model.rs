//! A model test of the store: random sequences of PUT, GET and DELETE, spread over several
//! connections and both dialects, with keys and values around every limit, against a `HashMap`
//! holding the same byte cap. proptest shrinks a failing sequence to a short one.

use std::collections::HashMap;

use crate::helpers::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use switchyard_actors::kvs::keyvalue::MAX_VALUE_BYTES;

/// Two of the largest values fit, a third does not.
const CAP: usize = 2 * MAX_VALUE_BYTES + 300;
const CONNECTIONS: usize = 4;

/// Keys around every limit: valid in both dialects, in `/kvs` only (201 to 250 characters),
/// in neither (251, characters outside the set, none at all).
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = ["a", "B_9", "Z", "bad-key", "sp ace", ""]
        .map(str::to_owned)
        .to_vec();
    keys.extend([199, 200, 201, 250, 251].map(|n| "k".repeat(n)));
    keys
}

/// Value lengths around every limit: empty, small, the largest, one more.
fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        1..20usize,
        Just(100_000),
        Just(MAX_VALUE_BYTES - 1),
        Just(MAX_VALUE_BYTES),
        Just(MAX_VALUE_BYTES + 1),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Kvs,
    KvStore,
}

#[derive(Debug, Clone)]
enum Op {
    Put { key: usize, len: usize, fill: char },
    Get { key: usize },
    Delete { key: usize },
}

#[derive(Debug, Clone)]
struct Step {
    connection: usize,
    dialect: Dialect,
    op: Op,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let key_count = keys().len();
    let op = prop_oneof![
        3 => (0..key_count, lengths(), proptest::char::range('a', 'z'))
            .prop_map(|(key, len, fill)| Op::Put { key, len, fill }),
        2 => (0..key_count).prop_map(|key| Op::Get { key }),
        1 => (0..key_count).prop_map(|key| Op::Delete { key }),
    ];
    let dialect = prop_oneof![Just(Dialect::Kvs), Just(Dialect::KvStore)];
    let step = (0..CONNECTIONS, dialect, op).prop_map(|(connection, dialect, op)| Step {
        connection,
        dialect,
        op,
    });
    proptest::collection::vec(step, 1..30)
}

/// The store as it should be.
#[derive(Default)]
struct Model {
    values: HashMap<String, String>,
    bytes: usize,
}

impl Model {
    /// The status the key-value API must answer, and the value a GET must return.
    fn apply(&mut self, dialect: Dialect, key: &str, op: &Op) -> (u16, Option<String>) {
        let (longest, refused) = match dialect {
            Dialect::Kvs => (250, 400),
            Dialect::KvStore => (200, 403),
        };
        let charset = key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if key.len() > longest || key.is_empty() || !charset {
            return (refused, None);
        }
        match op {
            Op::Put { len, fill, .. } => {
                if *len == 0 {
                    return (refused, None);
                }
                if *len > MAX_VALUE_BYTES {
                    return (413, None);
                }
                let old = self.values.get(key).map_or(0, |v| key.len() + v.len());
                if self.bytes - old + key.len() + len > CAP {
                    return (507, None);
                }
                let value: String = std::iter::repeat_n(*fill, *len).collect();
                let replaced = self.values.insert(key.to_owned(), value).is_some();
                self.bytes = self.bytes - old + key.len() + len;
                (if replaced { 200 } else { 201 }, None)
            }
            Op::Get { .. } => match self.values.get(key) {
                Some(value) => (200, Some(value.clone())),
                None => (404, None),
            },
            Op::Delete { .. } => match self.values.remove(key) {
                Some(value) => {
                    self.bytes -= key.len() + value.len();
                    (200, None)
                }
                None => (404, None),
            },
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections_per_host(1)
        .build()
        .into()
}

/// Runs `steps` on `base`, each on its connection, checking every answer against the model.
fn run_case(base: &str, agents: &[ureq::Agent], steps: &[Step]) -> Result<(), TestCaseError> {
    let keys = keys();
    // Every case starts from an empty store.
    for key in keys.iter().filter(|k| !k.is_empty() && k.len() <= 250) {
        let _ = agents[0].delete(format!("{base}/kvs/{key}")).call();
    }
    let mut model = Model::default();
    for step in steps {
        let (key, agent) = match &step.op {
            Op::Put { key, .. } | Op::Get { key } | Op::Delete { key } => {
                (&keys[*key], &agents[step.connection])
            }
        };
        let prefix = match step.dialect {
            Dialect::Kvs => "kvs",
            Dialect::KvStore => "kv-store",
        };
        let url = format!("{base}/{prefix}/{}", key.replace(' ', "%20"));
        let (expected_status, expected_value) = model.apply(step.dialect, key, &step.op);
        let mut answer = match &step.op {
            Op::Put { len, fill, .. } => {
                let body: String = "val="
                    .chars()
                    .chain(std::iter::repeat_n(*fill, *len))
                    .collect();
                agent
                    .put(&url)
                    .content_type("application/x-www-form-urlencoded")
                    .send(body)
            }
            Op::Get { .. } => agent.get(&url).call(),
            Op::Delete { .. } => agent.delete(&url).call(),
        }
        .map_err(|err| TestCaseError::fail(format!("{step:?}: {err}")))?;
        prop_assert_eq!(answer.status().as_u16(), expected_status, "{:?}", step);
        if let Some(expected) = expected_value {
            prop_assert_eq!(value_in(&mut answer)?, expected, "{:?}", step);
        }
    }
    // Afterwards the store holds exactly what the model does.
    for key in keys.iter().filter(|k| !k.is_empty() && k.len() <= 250) {
        let mut answer = agents[0]
            .get(format!("{base}/kvs/{}", key.replace(' ', "%20")))
            .call()
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        match model.values.get(key) {
            Some(value) => prop_assert_eq!(&value_in(&mut answer)?, value),
            None => prop_assert!(answer.status().as_u16() != 200, "{key} is stored"),
        }
    }
    Ok(())
}

/// The `value` of a found key's answer (the largest value JSON-escaped fits in 16 MiB).
fn value_in(answer: &mut ureq::http::Response<ureq::Body>) -> Result<String, TestCaseError> {
    let body = answer
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .map_err(|err| TestCaseError::fail(err.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|err| TestCaseError::fail(err.to_string()))?;
    match json["value"].as_str() {
        Some(value) => Ok(value.to_owned()),
        None => Err(TestCaseError::fail(format!("no value in {json}"))),
    }
}

#[test]
fn the_store_behaves_as_a_map_with_a_byte_cap() {
    let cap = CAP.to_string();
    let app = TestApp::builder()
        .envs(&[("KVS_MAX_BYTES", &cap)])
        .start_process();
    let agents: Vec<ureq::Agent> = (0..CONNECTIONS).map(|_| agent()).collect();
    let config = Config {
        cases: 32,
        // A failure is reported with its shrunk sequence; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&steps(), |steps| run_case(&app.base, &agents, &steps));
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
