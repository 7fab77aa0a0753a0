//! What every way a forwarder relays to the main shares (the link, and plain HTTP to a main
//! from before it): the header that marks a relayed request, and the unavailable answers.

use std::time::Duration;

use crate::error::{ActorError, Cause};

/// Marks the requests a forwarder relays, so the main does not record them as visits a second
/// time (the forwarder recorded the client's request already), and so a forwarder can refuse
/// one another forwarder relayed to it.
pub const RELAYED_HEADER: &str = "x-switchyard-relayed";

/// What a forwarder is told when its `MAINIP` names another forwarder.
pub(super) const FORWARDER_NAMED: &str = "MAINIP names a forwarding instance, not the main";

pub fn unavailable(description: impl std::fmt::Display) -> ActorError {
    ActorError::MainUnavailable(Cause::described(description))
}

/// The main did not answer a request within the forward timeout.
pub(super) fn no_answer_within(timeout: Duration) -> ActorError {
    unavailable(format_args!("no answer within {timeout:?}"))
}
