//! The recording of every request that is a visit, for `/recent`.

use actix::Addr;
use actix_web::dev::ServiceRequest;
use switchyard_actors::kvs::forwarder::RELAYED_HEADER;
use switchyard_actors::recent::{RecentList, RecordVisit};

use super::is_visit;

/// Records `req` as `"GET /kvs/foo"`, unless it is no visit (`/recent` itself, monitoring) or a
/// forwarder relayed it (the forwarder recorded it). Fire and forget: the request neither waits
/// for nor fails with the recording.
pub fn record_visit(list: &Addr<RecentList>, req: &ServiceRequest) {
    if is_visit(req.path()) && !req.headers().contains_key(RELAYED_HEADER) {
        list.do_send(RecordVisit {
            visit: format!("{} {}", req.method(), req.path()),
        });
    }
}
