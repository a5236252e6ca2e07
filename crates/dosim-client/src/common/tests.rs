//! Unit tests of reading the `page` parameter out of `links.pages` URLs.

use super::page_param;

#[track_caller]
fn check(url: &str, expect: Option<u32>) {
    assert_eq!(page_param(url), expect, "{url}");
}

#[test]
fn page_parameter() {
    check("https://api.digitalocean.com/v2/droplets?page=2", Some(2));
    check(
        "http://127.0.0.1:8080/v2/volumes?per_page=2&page=3",
        Some(3),
    );
    check("http://x/v2/volumes?region=nyc3&page=12#frag", Some(12));
    check("http://x/v2/volumes?per_page=3", None);
    check("http://x/v2/volumes?subpage=3", None);
    check("http://x/v2/volumes?page=-1", None);
    check("http://x/v2/volumes?page=", None);
    check("http://x/v2/volumes", None);
}
