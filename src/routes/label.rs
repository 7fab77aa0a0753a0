//! [`RouteLabel`]: how `/metrics` labels a route, declared by the route's own module.

/// A route as `/metrics` labels it, found by the first segment of a request's path (matching
/// the path against the app's routes again would cost more than the request's own routing),
/// and whether a request to it is a visit `/recent` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLabel {
    /// The path's first segment: `kvs` for `/kvs/foo`.
    pub(super) segment: &'static str,
    pub label: &'static str,
    /// `false`: a request to exactly `/<segment>` is no visit (monitoring, `/recent` itself).
    pub(super) visit: bool,
}

impl RouteLabel {
    pub const fn visit(segment: &'static str, label: &'static str) -> Self {
        Self {
            segment,
            label,
            visit: true,
        }
    }

    pub const fn not_a_visit(segment: &'static str, label: &'static str) -> Self {
        Self {
            segment,
            label,
            visit: false,
        }
    }
}
