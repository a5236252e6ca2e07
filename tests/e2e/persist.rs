//! `dosim serve --state FILE` survives `kill -9` at any moment: every restart loads a whole,
//! consistent state holding every acknowledged create it saved, with no hole before the last.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dosim_tests::Serve;

const WRITERS: usize = 4;
const ROUNDS: usize = 12;
/// Volumes per account before a writer moves on to a new token (DigitalOcean allows 100).
const PER_TOKEN: usize = 80;

fn call(url: &str, method: &str, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(url.trim_start_matches("http://")).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn token(writer: usize, index: usize) -> String {
    format!("dop_v1_{:064x}", 0x1000 * (writer + 1) + index)
}

fn name(writer: usize, n: usize) -> String {
    format!("w{writer}-{n}")
}

/// Every volume name in the server's state.
fn volume_names(serve: &Serve) -> BTreeSet<String> {
    let (status, body) = call(&serve.url, "GET", "/_dosim/state", &serve.token, "").unwrap();
    assert_eq!(status, 200);
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut names = BTreeSet::new();
    for account in state["accounts"].as_object().unwrap().values() {
        for volume in account["volumes"].as_object().unwrap().values() {
            names.insert(volume["name"].as_str().unwrap().to_owned());
        }
    }
    names
}

/// Creates volumes one after another until told to stop or the server goes; returns how many
/// were acknowledged.
fn write(url: String, writer: usize, start: usize, stop: Arc<AtomicBool>) -> usize {
    let mut n = start;
    while !stop.load(Ordering::Relaxed) {
        let body = format!(
            r#"{{"name":"{}","region":"nyc3","size_gigabytes":1}}"#,
            name(writer, n)
        );
        match call(
            &url,
            "POST",
            "/v2/volumes",
            &token(writer, n / PER_TOKEN),
            &body,
        ) {
            Some((201, _)) => n += 1,
            Some((status, body)) => panic!("create {}: {status} {body}", name(writer, n)),
            None => break,
        }
    }
    n
}

#[test]
fn kill_9_under_load_never_loses_a_saved_acknowledged_create() {
    let dir = std::env::temp_dir().join(format!("dosim-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = [
        "--state",
        file_arg.as_str(),
        "--state-save-ms",
        "20",
        "--rate-limit-burst",
        "100000",
        "--rate-limit-hourly",
        "1000000",
        "--pg-clusters-max",
        "0",
    ];
    // How many creates each writer has had acknowledged; creates below it are the writer's.
    let mut acked = [0usize; WRITERS];
    let mut restarts = 0;
    let mut lost = 0;
    // Acknowledged creates a kill came before the save of (within the debounce).
    let mut unsaved = 0;
    let mut loaded_max = 0;
    for round in 0..ROUNDS {
        let serve = Serve::start(&args);
        restarts += usize::from(round > 0);
        let present = volume_names(&serve);
        for (writer, acked) in acked.iter_mut().enumerate() {
            // The saved creates of a writer are a prefix of its acknowledged ones, plus perhaps
            // the one in flight when the server died.
            let saved = (0..=*acked)
                .take_while(|n| present.contains(&name(writer, *n)))
                .count();
            // A create present after a missing one means the missing one was lost.
            let holes =
                usize::from((saved + 1..=*acked).any(|n| present.contains(&name(writer, n))));
            lost += holes;
            assert_eq!(
                holes, 0,
                "round {round}: writer {writer} lost create {saved}"
            );
            unsaved += acked.saturating_sub(saved);
            *acked = saved;
        }
        loaded_max = loaded_max.max(present.len());
        // Graceful rounds: SIGTERM saves everything acknowledged.
        let graceful = round % 4 == 3;
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (url, stop, start) = (serve.url.clone(), stop.clone(), acked[writer]);
                std::thread::spawn(move || write(url, writer, start, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + 37 * round as u64));
        if graceful {
            stop.store(true, Ordering::Relaxed);
            let done: Vec<usize> = writers.into_iter().map(|w| w.join().unwrap()).collect();
            // The shell's own `kill`, so that no procps is needed.
            let status = std::process::Command::new("sh")
                .args(["-c", &format!("kill -TERM {}", serve.child.id())])
                .status()
                .unwrap();
            assert!(status.success());
            let mut serve = serve;
            assert!(serve.child.wait().unwrap().success());
            let restarted = Serve::start(&args);
            let present = volume_names(&restarted);
            for (writer, n) in done.iter().enumerate() {
                for i in 0..*n {
                    assert!(
                        present.contains(&name(writer, i)),
                        "graceful stop lost {}",
                        name(writer, i)
                    );
                }
                acked[writer] = *n;
            }
            drop(restarted);
        } else {
            // Serve's drop is SIGKILL.
            drop(serve);
            stop.store(true, Ordering::Relaxed);
            for (writer, handle) in writers.into_iter().enumerate() {
                acked[writer] = handle.join().unwrap();
            }
        }
    }
    let total: usize = acked.iter().sum();
    println!(
        "kill -9 loop: {restarts} restarts, {total} creates kept, largest state loaded {loaded_max} volumes, {unsaved} acknowledged but killed before their save, {lost} lost after a later save"
    );
    assert!(loaded_max > 0);
    let _ = std::fs::remove_dir_all(&dir);
}
