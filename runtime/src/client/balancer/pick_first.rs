//! `pick_first`, gRPC's default: every call goes to the first address in the resolver's order that has a
//! connection up, else to the first that connects.

use std::sync::Arc;

use super::{Pick, PickInfo, Policy};
use crate::client::subchannel::Subchannel;

/// The first address with a connection up, else the first that connects, in the resolver's order.
#[derive(Debug, Default)]
pub(crate) struct PickFirst;

impl Policy for PickFirst {
    fn name(&self) -> &'static str {
        "pick_first"
    }

    fn pick(&self, subchannels: &[Arc<Subchannel>], _call: PickInfo<'_>) -> Pick {
        match subchannels.iter().find_map(|s| s.current().map(|c| (s, c))) {
            Some((subchannel, connection)) => Pick::Ready(subchannel.clone(), connection),
            None => Pick::ConnectInOrder,
        }
    }
}
