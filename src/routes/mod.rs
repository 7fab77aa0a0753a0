//! HTTP translation, one module per concern; each exports `configure`, and those of the app
//! listeners declare how `/metrics` labels their routes (`LABELS`).

pub mod access;
pub mod cache;
pub mod counting;
pub mod dashboard;
pub mod gateway;
pub mod home;
pub mod images;
pub mod kvs;
pub mod label;
pub mod messages;
pub mod metrics;
pub mod proxy;
pub mod recent;
pub mod registry;
pub mod rquery;
pub mod services;
pub mod visits;

use label::RouteLabel;

/// Every labelled route of the app listeners, as each module declares them.
const LABELLED: [&[RouteLabel]; 11] = [
    home::LABELS,
    cache::LABELS,
    recent::LABELS,
    images::LABELS,
    kvs::LABELS,
    rquery::LABELS,
    registry::LABELS,
    services::LABELS,
    metrics::LABELS,
    dashboard::LABELS,
    messages::LABELS,
];

fn first_segment(path: &str) -> &str {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
}

fn route_of(path: &str) -> Option<&'static RouteLabel> {
    let segment = first_segment(path);
    LABELLED
        .iter()
        .flat_map(|labels| labels.iter())
        .find(|route| route.segment == segment)
}

/// The label `/metrics` counts a request to `path` under; `other` for a path of no route, so a
/// client cannot make a label of every path it invents.
pub fn label_of(path: &str) -> &'static str {
    route_of(path).map_or("other", |route| route.label)
}

/// Whether a request to `path` is a visit `/recent` records.
pub fn is_visit(path: &str) -> bool {
    match route_of(path) {
        Some(route) if !route.visit => path.strip_prefix('/') != Some(route.segment),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_labelled_by_its_route_and_anything_else_is_other() {
        assert_eq!(label_of("/"), "/");
        assert_eq!(label_of("/kvs/some/key"), "/kvs/{key}");
        assert_eq!(label_of("/services/3/stop"), "/services");
        assert_eq!(label_of("/get"), "/get");
        assert_eq!(label_of("/made-up-by-a-client"), "other");
    }

    #[test]
    fn monitoring_and_recent_itself_are_no_visits() {
        for path in ["/recent", "/status", "/dashboard", "/metrics"] {
            assert!(!is_visit(path), "{path}");
        }
        for path in ["/", "/kvs/foo", "/recent/x", "/meow", "/nowhere"] {
            assert!(is_visit(path), "{path}");
        }
    }
}
