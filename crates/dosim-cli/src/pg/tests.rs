//! Tests of the host that served clusters' connection details show.

use std::net::IpAddr;

use super::advertised_host;

#[track_caller]
fn check(bind: &str, shown: &str) {
    let ip: IpAddr = bind.parse().expect("a test address parses");
    assert_eq!(advertised_host(ip), shown, "for --addr IP {bind}");
}

#[test]
fn an_ipv4_address_is_shown_as_it_is() {
    check("127.0.0.1", "127.0.0.1");
    check("192.168.1.20", "192.168.1.20");
}

#[test]
fn an_unspecified_address_is_shown_as_loopback() {
    check("0.0.0.0", "127.0.0.1");
    check("::", "[::1]");
}

#[test]
fn an_ipv6_address_is_shown_in_brackets_so_the_uri_parses() {
    check("::1", "[::1]");
    check("fd00::5", "[fd00::5]");
}
