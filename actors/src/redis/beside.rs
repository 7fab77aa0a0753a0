//! Keys named after another key and kept in its slot on a cluster ([`beside`]): a queue's busy
//! lists, which one script moves requests between, and vpush's marks on a remote cluster.

use super::slots::hash_tag;

/// On vpush's remote, under its prefix (which may be this one), or beside its output.
pub(super) const VPUSH_MARKS: &str = "vpush:mark:";

/// After a queue's name (beside it: [`busy_list`]), then a worker's id.
const BUSY: &str = ":busy:";

/// A key named after `key` that a cluster keeps in `key`'s slot, so that one script can touch
/// both: `key` then `suffix` when `key` has a hash tag, else `{key}` then `suffix`. A `key`
/// holding a `}` but no hash tag cannot be wrapped: it comes back as is, then `suffix`, in
/// another slot (refused at start on a cluster).
pub fn beside(key: &str, suffix: &str) -> String {
    if hash_tag(key.as_bytes()).is_some() || key.contains('}') {
        format!("{key}{suffix}")
    } else {
        format!("{{{key}}}{suffix}")
    }
}

/// What worker `worker_id` has taken from `queue` (a full key) and not yet answered: beside
/// the queue, so that one script moves requests between them.
pub fn busy_list(queue: &str, worker_id: &str) -> String {
    beside(queue, &format!("{BUSY}{worker_id}"))
}

/// Whose busy list of `queue` the key `busy` is, if it is one (under today's name, or as named
/// before busy lists were kept beside their queue).
pub fn busy_list_owner<'a>(queue: &str, busy: &'a str) -> Option<&'a str> {
    [busy_list(queue, ""), format!("{queue}{BUSY}")]
        .iter()
        .find_map(|start| busy.strip_prefix(start.as_str()))
        .filter(|owner| !owner.is_empty())
}

/// `SCAN MATCH` patterns, glob characters escaped, for every busy list of `queue` (a full
/// key): today's name, and the name before busy lists were kept beside their queue (so that
/// what a process of an earlier version held is still put back) when it differs.
pub fn busy_lists_patterns(queue: &str) -> Vec<String> {
    let mut patterns = vec![glob_escaped(&busy_list(queue, "")) + "*"];
    let earlier = glob_escaped(&format!("{queue}{BUSY}")) + "*";
    if patterns[0] != earlier {
        patterns.push(earlier);
    }
    patterns
}

fn glob_escaped(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// On vpush's remote, under `remote_prefix`: the mark that message `number` of source list
/// `source` (its random id) was delivered. A remote cluster keeps it beside the `output`
/// instead ([`beside`]), when the two could not be touched together (`apart`): the delivery
/// pushes and marks in one script.
pub fn vpush_mark(
    remote_prefix: &str,
    output: &str,
    apart: impl Fn(&str) -> bool,
    source: &str,
    number: &str,
) -> String {
    let mark = format!("{remote_prefix}{VPUSH_MARKS}{source}:{number}");
    if apart(&mark) {
        beside(output, &format!(":{VPUSH_MARKS}{source}:{number}"))
    } else {
        mark
    }
}

#[cfg(test)]
mod tests {
    use super::super::slots::key_slot;
    use super::*;

    #[test]
    fn a_busy_list_lives_beside_its_queue_and_its_patterns_match_only_that_queue_s() {
        assert_eq!(busy_list("p:q", "w-1"), "{p:q}:busy:w-1");
        assert_eq!(busy_list("p:{orders}q", "w-1"), "p:{orders}q:busy:w-1");
        for queue in ["p:q", "p:{orders}q", "p:a{b", "gateway:req"] {
            let busy = busy_list(queue, "w-1");
            assert_eq!(
                key_slot(busy.as_bytes()),
                key_slot(queue.as_bytes()),
                "{queue}"
            );
            assert_eq!(busy_list_owner(queue, &busy), Some("w-1"), "{queue}");
            assert_eq!(
                busy_list_owner(queue, &format!("{queue}:busy:w-2")),
                Some("w-2")
            );
        }
        assert_eq!(busy_list_owner("p:q", "p:q:busy:"), None);
        assert_eq!(busy_list_owner("p:q", "p:qq:busy:w"), None);
        // A `}` without a hash tag cannot be wrapped: another slot, refused on a cluster.
        for odd in ["p:a}b", "p:{}q"] {
            let busy = busy_list(odd, "w");
            assert_ne!(key_slot(busy.as_bytes()), key_slot(odd.as_bytes()), "{odd}");
        }
        assert_eq!(
            busy_lists_patterns("p:a*[b]"),
            ["{p:a\\*\\[b\\]}:busy:*", "p:a\\*\\[b\\]:busy:*"]
        );
        assert_eq!(busy_lists_patterns("p:{o}q"), ["p:{o}q:busy:*"]);
    }

    #[test]
    fn a_vpush_mark_moves_beside_the_output_only_where_it_would_be_apart() {
        let together = vpush_mark("r:", "r:out", |_| false, "src", "7");
        assert_eq!(together, "r:vpush:mark:src:7");
        let apart = vpush_mark("r:", "r:out", |_| true, "src", "7");
        assert_eq!(apart, "{r:out}:vpush:mark:src:7");
        let tagged = vpush_mark("r:", "r:{o}out", |_| true, "src", "7");
        assert_eq!(tagged, "r:{o}out:vpush:mark:src:7");
    }
}
