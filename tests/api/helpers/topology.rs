//! Redis laid out as users run it: over TLS ([`TlsRedis`]) and as a master with replicas
//! watched by sentinels ([`SentinelSet`]), real servers on free loopback ports.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::files::TempDir;
use super::redis::{plain_server, TestRedis};

/// A redis-server speaking only TLS, its certificate for `127.0.0.1` and `localhost` signed
/// by a CA made for the test; a second CA that signed nothing, to be refused.
pub struct TlsRedis {
    pub server: TestRedis,
    /// The CA that signed the server's certificate (`REDIS_CA_FILE`).
    pub ca_file: String,
    /// A CA that did not.
    pub wrong_ca_file: String,
    _dir: TempDir,
}

impl TlsRedis {
    pub fn start(test: &str) -> Self {
        let dir = TempDir::new(&format!("tls-{test}"));
        make_certificates(dir.path());
        let files = |name: &str| dir.string(name);
        let (cert, key, ca) = (files("server.crt"), files("server.key"), files("ca.crt"));
        let launcher = Arc::new(move |port: u16| {
            // TLS only: the later `--port 0` wins over plain_server's.
            let mut command = plain_server(port);
            command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .args(["--tls-cert-file", &cert, "--tls-key-file", &key])
                .args(["--tls-ca-cert-file", &ca, "--tls-auth-clients", "no"]);
            command
        });
        let cli = vec!["--tls".into(), "--cacert".into(), files("ca.crt")];
        Self {
            server: TestRedis::start_with(launcher, cli),
            ca_file: files("ca.crt"),
            wrong_ca_file: files("other-ca.crt"),
            _dir: dir,
        }
    }

    /// `rediss://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.server.port)
    }
}

/// Runs openssl in `dir`: a CA, a server key and certificate it signs, and another CA.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (scripts/test installs it)");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (key, crt, subject) = (
            format!("{ca}.key"),
            format!("{ca}.crt"),
            format!("/CN={ca}"),
        );
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &crt]);
        openssl(&args);
    }
    let mut request = vec!["req", "-subj", "/CN=localhost", "-keyout", "server.key"];
    request.extend(ec);
    request.extend(["-out", "server.csr"]);
    openssl(&request);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
}

/// A master, two replicas and three sentinels watching it as `MASTER_NAME`, quick to fail
/// over (down after 1 s).
pub struct SentinelSet {
    /// The first master and its replicas, in the order started; any may be master later.
    pub servers: Vec<TestRedis>,
    pub sentinels: Vec<TestRedis>,
    _dir: TempDir,
}

pub const MASTER_NAME: &str = "switchyard-test";

impl SentinelSet {
    pub fn start(test: &str) -> Self {
        let dir = TempDir::new(&format!("sentinel-{test}"));
        let master = TestRedis::start();
        let replicaof = master.port.to_string();
        let mut servers = vec![master];
        for _ in 0..2 {
            let replicaof = replicaof.clone();
            let launcher = Arc::new(move |port: u16| {
                let mut command = plain_server(port);
                command.args(["--replicaof", "127.0.0.1", &replicaof]);
                command
            });
            servers.push(TestRedis::start_with(launcher, Vec::new()));
        }
        let sentinels = (0..3)
            .map(|n| {
                // A sentinel rewrites its configuration file: one file each.
                let conf = dir.string(&format!("sentinel-{n}.conf"));
                std::fs::write(&conf, sentinel_conf(&replicaof)).unwrap();
                let launcher = Arc::new(move |port: u16| {
                    let mut command = Command::new("redis-sentinel");
                    command.arg(&conf).args(["--port", &port.to_string()]);
                    command
                });
                TestRedis::start_with(launcher, Vec::new())
            })
            .collect();
        let set = Self {
            servers,
            sentinels,
            _dir: dir,
        };
        set.until_replicas_and_sentinels_know_each_other();
        set
    }

    /// `redis-sentinel://<the three sentinels>/switchyard-test`.
    pub fn url(&self) -> String {
        let ports: Vec<String> = self
            .sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port))
            .collect();
        format!("redis-sentinel://{}/{MASTER_NAME}", ports.join(","))
    }

    /// The port of the master the first sentinel names now.
    pub fn master_port(&self) -> u16 {
        let named = self.sentinels[0].cli(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME]);
        let port = named.lines().nth(1).expect("an address");
        port.trim().parse().expect("a port")
    }

    /// The server that is master now.
    pub fn master(&self) -> &TestRedis {
        let port = self.master_port();
        self.servers
            .iter()
            .find(|server| server.port == port)
            .expect("one of the set")
    }

    /// Kills the master (SIGKILL) and waits until the sentinels name another one, within
    /// `limit`; the new master's port.
    pub fn kill_master_and_wait(&mut self, limit: Duration) -> u16 {
        let old = self.master_port();
        let index = self.servers.iter().position(|s| s.port == old).unwrap();
        self.servers[index].stop();
        let deadline = Instant::now() + limit;
        loop {
            let now = self.master_port();
            if now != old {
                return now;
            }
            assert!(Instant::now() < deadline, "no failover within {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn until_replicas_and_sentinels_know_each_other(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let ready = || {
            let replicas = self.servers[0].cli(&["INFO", "replication"]);
            let sentinels = self.sentinels[0].cli(&["SENTINEL", "sentinels", MASTER_NAME]);
            replicas.contains("connected_slaves:2")
                && self.servers[1..].iter().all(|replica| {
                    replica
                        .cli(&["INFO", "replication"])
                        .contains("master_link_status:up")
                })
                && sentinels.matches("name").count() == 2
        };
        while !ready() {
            assert!(Instant::now() < deadline, "the sentinel set never settled");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn sentinel_conf(master_port: &str) -> String {
    format!(
        "bind 127.0.0.1\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
         sentinel failover-timeout {MASTER_NAME} 10000\n\
         sentinel parallel-syncs {MASTER_NAME} 2\n"
    )
}

/// A Redis Cluster of three masters with a replica each (`redis-cli --cluster create`), a
/// master failed after `node_timeout` without an answer and replaced by its replica; the slots
/// of the other masters served meanwhile (`cluster-require-full-coverage no`).
pub struct ClusterSet {
    pub nodes: Vec<TestRedis>,
    _dir: TempDir,
}

impl ClusterSet {
    pub fn start(test: &str, node_timeout: Duration) -> Self {
        let dir = TempDir::new(&format!("cluster-{test}"));
        let node_timeout = node_timeout.as_millis().to_string();
        let nodes: Vec<TestRedis> = (0..6)
            .map(|_| {
                let (dir, node_timeout) = (dir.path().to_owned(), node_timeout.clone());
                let launcher = Arc::new(move |port: u16| {
                    let mut command = plain_server(port);
                    let config = dir.join(format!("nodes-{port}.conf"));
                    command
                        .args([
                            "--cluster-enabled",
                            "yes",
                            "--cluster-node-timeout",
                            &node_timeout,
                        ])
                        .args(["--cluster-require-full-coverage", "no"])
                        .arg("--cluster-config-file")
                        .arg(config);
                    command
                });
                TestRedis::start_with(launcher, vec!["-c".into()])
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        create.args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)));
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let output = create.output().expect("redis-cli runs");
        assert!(output.status.success(), "cluster create: {output:?}");
        let set = Self { nodes, _dir: dir };
        set.until_every_node_says_ok();
        set
    }

    /// `redis-cluster://` naming the first two nodes as seeds.
    pub fn url(&self) -> String {
        format!(
            "redis-cluster://127.0.0.1:{},127.0.0.1:{}",
            self.nodes[0].port, self.nodes[1].port
        )
    }

    /// One command through `redis-cli -c` (redirections followed), at any live node.
    pub fn cli(&self, args: &[&str]) -> String {
        let node = self
            .nodes
            .iter()
            .find(|n| n.is_running())
            .expect("a live node");
        node.cli(args)
    }

    fn slot(&self, key: &str) -> u16 {
        self.cli(&["CLUSTER", "KEYSLOT", key]).parse().unwrap()
    }

    /// Kills (SIGKILL) the master serving `key`, then waits up to `limit` until a replica
    /// serves its slot, and answers how long that took. The killed node is then started
    /// again, as an orchestrator would, and comes back as the new master's replica (so
    /// `WAIT 1` can be answered again).
    pub fn kill_master_of(&mut self, key: &str, limit: Duration) -> Duration {
        let slot = self.slot(key);
        let port = self.master_of(key).port;
        let index = self.nodes.iter().position(|n| n.port == port).unwrap();
        self.nodes[index].stop();
        let killed = Instant::now();
        while !self.nodes.iter().any(|n| n.is_running() && owns(n, slot)) {
            assert!(killed.elapsed() < limit, "no replica took over");
            std::thread::sleep(Duration::from_millis(50));
        }
        let took_over = killed.elapsed();
        self.nodes[index].start_again();
        took_over
    }

    /// The master serving `key`'s slot now.
    pub fn master_of(&self, key: &str) -> &TestRedis {
        let slot = self.slot(key);
        self.nodes
            .iter()
            .find(|node| node.is_running() && owns(node, slot))
            .expect("a master serves the slot")
    }

    /// Waits until every live node says the cluster is ok and every master has a replica
    /// in sync.
    pub fn until_every_node_says_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let settled = |node: &TestRedis| {
            let replication = node.cli(&["INFO", "replication"]);
            node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")
                && (replication.contains("role:slave")
                    && replication.contains("master_link_status:up")
                    || replication.contains("connected_slaves:1"))
        };
        while !self.nodes.iter().filter(|n| n.is_running()).all(settled) {
            assert!(Instant::now() < deadline, "the cluster never settled");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether `node` is a master whose own slot ranges hold `slot` (`CLUSTER NODES`, its line
/// marked `myself`).
fn owns(node: &TestRedis, slot: u16) -> bool {
    let nodes = node.cli(&["CLUSTER", "NODES"]);
    let Some(myself) = nodes.lines().find(|line| line.contains("myself")) else {
        return false;
    };
    myself.contains("master")
        && myself.split_whitespace().skip(8).any(|range| {
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            match (start.parse::<u16>(), end.parse::<u16>()) {
                (Ok(start), Ok(end)) => (start..=end).contains(&slot),
                _ => false,
            }
        })
}
