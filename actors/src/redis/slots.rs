//! Redis Cluster's slots: which of the 16384 slots a key (and so a command) belongs to, the
//! map of which master serves each slot, and the redirections a node answers with.

use std::collections::HashMap;

use crc::{Crc, CRC_16_XMODEM};
use redis_async::resp::RespValue;

use super::url_parts::Address;

pub const SLOTS: u16 = 16384;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// `key`'s hash tag: the text between its first `{` and the next `}`, when that is not empty.
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// The slot of `key`: of its hash tag when it has one, else of the whole key.
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key).unwrap_or(key)) % SLOTS
}

/// Whether every one of `keys` hashes to one slot, so that a cluster can run a script or a
/// command on them together.
pub fn same_slot(keys: &[&str]) -> bool {
    keys.windows(2)
        .all(|pair| key_slot(pair[0].as_bytes()) == key_slot(pair[1].as_bytes()))
}

/// Where a command's keys are, by its name: the slot of its first key, none for a command
/// without keys (it may go to any node).
pub fn command_slot(command: &RespValue) -> Option<u16> {
    let RespValue::Array(parts) = command else {
        return None;
    };
    let name = parts.first().and_then(text)?.to_ascii_uppercase();
    let key_at = match name.as_str() {
        // EVAL script numkeys key...: none when numkeys is 0.
        "EVAL" | "EVALSHA" => {
            let count: usize = parts.get(2).and_then(text)?.parse().ok()?;
            (count > 0).then_some(3)?
        }
        // BLMPOP timeout numkeys key...
        "BLMPOP" => 3,
        "PING" | "TIME" | "INFO" | "WAIT" | "SCAN" | "ASKING" | "CLUSTER" | "PUBLISH"
        | "SUBSCRIBE" | "AUTH" | "SELECT" | "ROLE" => return None,
        _ => 1,
    };
    match parts.get(key_at)? {
        RespValue::BulkString(bytes) => Some(key_slot(bytes)),
        RespValue::SimpleString(text) => Some(key_slot(text.as_bytes())),
        _ => None,
    }
}

fn text(value: &RespValue) -> Option<String> {
    match value {
        RespValue::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        RespValue::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

/// Which master serves each slot, from `CLUSTER SLOTS`.
pub struct SlotMap {
    /// Per slot, an index into `masters`.
    owners: Vec<Option<u16>>,
    masters: Vec<Address>,
}

impl SlotMap {
    pub fn empty() -> Self {
        Self {
            owners: vec![None; usize::from(SLOTS)],
            masters: Vec::new(),
        }
    }

    /// The master serving `slot`, when the map knows one.
    pub fn owner(&self, slot: u16) -> Option<&Address> {
        let index = (*self.owners.get(usize::from(slot))?)?;
        self.masters.get(usize::from(index))
    }

    /// Every master the map names.
    pub fn masters(&self) -> &[Address] {
        &self.masters
    }

    /// The map `CLUSTER SLOTS` answered: `[[start, end, [host, port, id], replicas...], ...]`.
    /// A master announced without a host (`""` or `"?"`) is at the address it was asked on.
    pub fn parse(answer: RespValue, asked: &Address) -> Result<Self, String> {
        let RespValue::Array(ranges) = answer else {
            return Err(format!("CLUSTER SLOTS answered {answer:?}"));
        };
        let mut map = Self::empty();
        let mut indexes: HashMap<Address, u16> = HashMap::new();
        for range in ranges {
            let RespValue::Array(parts) = range else {
                return Err("a slot range that is not an array".into());
            };
            let (Some(start), Some(end), Some(RespValue::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return Err("a slot range without its master".into());
            };
            let (start, end) = (integer(start)?, integer(end)?);
            if start > end || end >= i64::from(SLOTS) || start < 0 {
                return Err(format!("a slot range {start}-{end}"));
            }
            let host = master.first().and_then(text).unwrap_or_default();
            let port = master.get(1).map(integer).transpose()?.unwrap_or(0);
            let address = Address {
                host: if host.is_empty() || host == "?" {
                    asked.host.clone()
                } else {
                    host
                },
                port: u16::try_from(port).map_err(|_| format!("a port {port}"))?,
            };
            let next = u16::try_from(map.masters.len()).unwrap_or(u16::MAX);
            let index = *indexes.entry(address.clone()).or_insert_with(|| {
                map.masters.push(address);
                next
            });
            for slot in start..=end {
                map.owners[slot as usize] = Some(index);
            }
        }
        Ok(map)
    }
}

fn integer(value: &RespValue) -> Result<i64, String> {
    match value {
        RespValue::Integer(n) => Ok(*n),
        other => Err(format!("{other:?} where a number was due")),
    }
}

/// What a node said instead of running the command.
#[derive(Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `MOVED <slot> <host>:<port>`: the slot is served there now; the map is stale.
    Moved(Address),
    /// `ASK <slot> <host>:<port>`: the slot is moving; this one command goes there, after
    /// `ASKING`.
    Ask(Address),
    /// `TRYAGAIN`: the keys are split between two nodes while their slot moves.
    TryAgain,
}

impl Redirect {
    /// The same redirection, an empty host replaced by `asked`'s.
    pub fn at_host_of(self, asked: &Address) -> Self {
        let fill = |mut to: Address| {
            if to.host.is_empty() {
                to.host.clone_from(&asked.host);
            }
            to
        };
        match self {
            Self::Moved(to) => Self::Moved(fill(to)),
            Self::Ask(to) => Self::Ask(fill(to)),
            Self::TryAgain => Self::TryAgain,
        }
    }

    /// The redirection an error answer is, if it is one.
    pub fn of(error: &str) -> Option<Self> {
        let mut words = error.split_whitespace();
        let kind = words.next()?;
        if kind == "TRYAGAIN" {
            return Some(Self::TryAgain);
        }
        let (_slot, target) = (words.next()?, words.next()?);
        let (host, port) = target.rsplit_once(':')?;
        let address = Address {
            host: host.trim_matches(['[', ']']).to_owned(),
            port: port.parse().ok()?,
        };
        match kind {
            "MOVED" => Some(Self::Moved(address)),
            "ASK" => Some(Self::Ask(address)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use redis_async::resp_array;

    use super::*;

    #[test]
    fn slots_are_redis_s_own() {
        // The values `CLUSTER KEYSLOT` gives.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }

    #[test]
    fn a_command_s_slot_is_its_first_key_s() {
        let eval = resp_array!["EVAL", "return 1", "2", "{q}a", "{q}b", "arg"];
        assert_eq!(command_slot(&eval), Some(key_slot(b"q")));
        assert_eq!(command_slot(&resp_array!["EVAL", "return 1", "0"]), None);
        let blmpop = resp_array!["BLMPOP", "1", "1", "list", "RIGHT"];
        assert_eq!(command_slot(&blmpop), Some(key_slot(b"list")));
        assert_eq!(command_slot(&resp_array!["GET", "foo"]), Some(12182));
        assert_eq!(command_slot(&resp_array!["PING"]), None);
    }

    #[test]
    fn redirections_are_read() {
        let at = |host: &str, port| Address {
            host: host.into(),
            port,
        };
        let moved = Redirect::of("MOVED 3999 127.0.0.1:6381");
        assert_eq!(moved, Some(Redirect::Moved(at("127.0.0.1", 6381))));
        let ask = Redirect::of("ASK 3999 [::1]:6381");
        assert_eq!(ask, Some(Redirect::Ask(at("::1", 6381))));
        assert_eq!(
            Redirect::of("TRYAGAIN Multiple keys"),
            Some(Redirect::TryAgain)
        );
        assert_eq!(Redirect::of("ERR unknown command"), None);
        let unknown = Redirect::of("MOVED 1 :7001")
            .unwrap()
            .at_host_of(&at("10.0.0.1", 7000));
        assert_eq!(unknown, Redirect::Moved(at("10.0.0.1", 7001)));
    }

    #[test]
    fn the_map_names_each_slot_s_master() {
        let node = |port: i64| {
            RespValue::Array(vec![
                RespValue::BulkString(b"127.0.0.1".to_vec()),
                RespValue::Integer(port),
            ])
        };
        let range = |start, end, port| {
            RespValue::Array(vec![
                RespValue::Integer(start),
                RespValue::Integer(end),
                node(port),
                node(port + 3),
            ])
        };
        let answer = RespValue::Array(vec![range(0, 5460, 7000), range(5461, 16383, 7001)]);
        let asked = Address {
            host: "127.0.0.1".into(),
            port: 7000,
        };
        let map = SlotMap::parse(answer, &asked).unwrap();
        assert_eq!(map.owner(0).unwrap().port, 7000);
        assert_eq!(map.owner(5461).unwrap().port, 7001);
        assert_eq!(map.masters().len(), 2);
    }
}
