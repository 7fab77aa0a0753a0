//! Every port the process listens on, one file each, all built from the one app recipe
//! ([`crate::app`]): the main port, the load-balancing proxy, the gateway, and the app servers
//! `/spawn` starts.

pub mod gateway;
pub mod main_port;
pub mod proxy;
pub mod spawned;

use std::io;
use std::net::{IpAddr, TcpListener};

/// A listener on `ip:port`; the error names the address.
pub fn bind(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((ip, port))
        .map_err(|err| io::Error::new(err.kind(), format!("cannot listen on {ip}:{port}: {err}")))
}
