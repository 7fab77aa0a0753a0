//! What a Redis Cluster (`REDIS_URL=redis-cluster://...`) asks of the configuration, checked
//! at start: every key one script touches must hash to one slot (docs/redis-keys.md). A
//! mover's lists, and vpush's input, must carry a hash tag; a queue's name must let its busy
//! lists live beside it.
//! What a cluster cannot run is refused here, naming its variable, rather than failing every
//! command later.

use switchyard_actors::redis::{busy_list, same_slot, Topology};

use super::takers::TakerSpec;
use super::{Config, ConfigError};

/// Refuses, on a cluster, what a cluster cannot run as configured.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    if !matches!(config.redis.topology, Topology::Cluster { .. }) {
        return Ok(());
    }
    let prefix = &config.redis.prefix;
    // Tracking's keys are named beside `<prefix>message`, as busy lists beside their queue.
    let tracking = format!("{prefix}message");
    if !same_slot(&[&tracking, &busy_list(&tracking, "")]) {
        return Err(ConfigError::new(
            "REDIS_PREFIX",
            prefix.clone(),
            "on a Redis Cluster, a prefix with no '}', or with a hash tag ({tag})".into(),
        ));
    }
    for taker in &config.takers {
        match taker {
            TakerSpec::Vpush(vpush) => {
                // Its pending list, lease and counters are named after the input.
                let input = format!("{prefix}{}", vpush.input);
                if !same_slot(&[&input, &format!("{input}:vpush:pending")]) {
                    return Err(ConfigError::new(
                        "VPUSH_IN",
                        vpush.input.clone(),
                        "on a Redis Cluster, a list name with a hash tag, for example \
                         VPUSH_IN={orders}in: vpush keeps its own keys beside the input"
                            .into(),
                    ));
                }
            }
            TakerSpec::Mover(mover) => {
                let (input, output) = mover.kind.variables();
                let mut lists = vec![format!("{prefix}{}", mover.input)];
                lists.push(busy_list(&lists[0], "m"));
                lists.extend(mover.outputs.iter().map(|out| format!("{prefix}{out}")));
                let lists: Vec<&str> = lists.iter().map(String::as_str).collect();
                if !same_slot(&lists) {
                    return Err(ConfigError::new(
                        input,
                        mover.input.clone(),
                        format!(
                            "lists a Redis Cluster keeps in one slot, with {output}: give them \
                             one hash tag, for example {input}={{orders}}in and \
                             {output}={{orders}}a,{{orders}}b"
                        )
                        .into(),
                    ));
                }
            }
            _ => {
                for named in taker.lists() {
                    let queue = format!("{prefix}{}", named.list);
                    if !same_slot(&[&queue, &busy_list(&queue, "w")]) {
                        return Err(ConfigError::new(
                            named.variable,
                            named.list.to_owned(),
                            "on a Redis Cluster, a queue name with no '}', or with a hash \
                             tag ({tag}): its busy lists must live beside it"
                                .into(),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;

    const CLUSTER: (&str, &str) = ("REDIS_URL", "redis-cluster://n1:7000,n2:7001");

    #[test]
    fn a_cluster_takes_tagged_movers_and_any_queue_and_refuses_the_rest_naming_the_variable() {
        let fine = [
            vec![
                ("MPUSH_IN", "{orders}in"),
                ("MPUSH_OUT", "{orders}a,{orders}b"),
            ],
            vec![("LPUSH_IN", "{o}in"), ("LPUSH_OUT", "{o}out")],
            vec![("WORKER_QUEUES", "gateway:req,other")],
            vec![("ROUTER_IN", "routes")],
            vec![("MESSAGE_TRACKING", "true")],
            vec![("NDEPLOY_QUEUE", "deploys"), ("NDEPLOY_DIR", "/tmp")],
            vec![
                ("VPUSH_IN", "{v}in"),
                ("VPUSH_OUT", "out"),
                ("VPUSH_URL", "redis://o:1"),
            ],
        ];
        for vars in fine {
            let mut vars = vars.clone();
            vars.push(CLUSTER);
            assert!(config(&vars).is_ok(), "{vars:?}");
        }
        let refused = [
            (vec![("MPUSH_IN", "in"), ("MPUSH_OUT", "a,b")], "MPUSH_IN"),
            (
                vec![("MBALANCE_IN", "{x}in"), ("MBALANCE_OUT", "{y}a")],
                "MBALANCE_IN",
            ),
            (vec![("WORKER_QUEUES", "odd}name")], "WORKER_QUEUES"),
            (vec![("REDIS_PREFIX", "odd}:")], "REDIS_PREFIX"),
            (
                vec![
                    ("VPUSH_IN", "in"),
                    ("VPUSH_OUT", "out"),
                    ("VPUSH_URL", "redis://o:1"),
                ],
                "VPUSH_IN",
            ),
        ];
        for (vars, variable) in refused {
            let mut vars = vars.clone();
            vars.push(CLUSTER);
            let err = config(&vars).unwrap_err();
            assert_eq!(err.name, variable, "{err}");
        }
        // The same names are fine on one Redis, and vpush's output on a cluster is any list.
        assert!(config(&[("MPUSH_IN", "in"), ("MPUSH_OUT", "a,b")]).is_ok());
        let to_cluster = [
            ("VPUSH_IN", "in"),
            ("VPUSH_OUT", "out"),
            ("VPUSH_URL", "redis-cluster://n1:7000"),
        ];
        assert!(config(&to_cluster).is_ok());
    }
}
