//! Issue 4: the classic task broker's command line and fetch-worker
//! protocol: `corsair broker -t TRIES -T SECONDS CLIENTS WORKERS ANSWERS`
//! with pyzmq fetch workers and REQ clients (tests/peers/fetchworker.py,
//! reqclient.py, written from design.md's description), and corsair's
//! own fetch, Pirate and Majordomo workers serving one broker.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(90);

fn fetch_worker(b: &ClassicBroker, name: &str, flags: &[&str]) -> Proc {
    let mut args = vec![b.workers.as_str(), b.answers.as_str(), "--name", name];
    args.extend_from_slice(flags);
    let mut p = Proc::spawn(
        &format!("fetchworker {name}"),
        python("fetchworker.py", &args),
    );
    p.wait_for("ready", LONG);
    p
}

/// Lines `kind name task-id body` of a fetch worker, as (kind, body).
fn events(p: &mut Proc) -> Vec<(String, String)> {
    p.lines_so_far()
        .iter()
        .filter_map(|l| {
            let parts: Vec<_> = l.split(' ').collect();
            match parts.as_slice() {
                [kind, _name, _id, body] => Some((kind.to_string(), body.to_string())),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn with_ten_percent_drops_every_request_ends_and_fails_only_after_three_drops() {
    let _bomb = time_bomb("classic_drops", Duration::from_secs(150));
    let broker = start_classic_broker(&["-t", "3", "-T", "0.5"]);
    let mut workers = vec![
        fetch_worker(&broker, "a", &["--drop", "0.1"]),
        fetch_worker(&broker, "b", &["--drop", "0.1"]),
    ];
    let clients: Vec<Proc> = (1..=4)
        .map(|i| {
            let name = format!("c{i}");
            Proc::spawn(
                &name,
                python("reqclient.py", &[&broker.clients, "25", "--name", &name]),
            )
        })
        .collect();
    let (mut answered, mut failed) = (Vec::new(), Vec::new());
    for c in clients {
        let name = c.name.clone();
        let (code, lines) = c.wait(LONG);
        assert_eq!(code, Some(0), "{name}: {lines:?}");
        for l in &lines {
            let parts: Vec<_> = l.split(' ').collect();
            match parts.as_slice() {
                ["answer", req, reply] => {
                    assert!(
                        *reply == format!("a:{req}") || *reply == format!("b:{req}"),
                        "{l}"
                    );
                    answered.push(req.to_string());
                }
                ["failure", req] => failed.push(req.to_string()),
                _ => panic!("{name}: unexpected line {l}"),
            }
        }
    }
    assert_eq!(answered.len() + failed.len(), 100, "every request ended");
    let mut drops: HashMap<String, usize> = HashMap::new();
    let mut tasks = 0;
    for w in &mut workers {
        for (kind, body) in events(w) {
            match kind.as_str() {
                "drop" => *drops.entry(body).or_default() += 1,
                "task" => tasks += 1,
                _ => {}
            }
        }
    }
    for req in &failed {
        assert_eq!(
            drops.get(req),
            Some(&3),
            "{req} failed after {:?} drops",
            drops.get(req)
        );
    }
    assert!(tasks >= 100, "every request reached a worker at least once");
    let stats = broker.proc.stop();
    assert_eq!(stat(&stats, "answered"), answered.len() as u64);
    assert_eq!(stat(&stats, "attempts_exhausted"), failed.len() as u64);
    assert_eq!(stat(&stats, "failed"), failed.len() as u64);
}

#[test]
fn one_try_and_a_worker_dropping_everything_fails_every_client() {
    let _bomb = time_bomb("classic_one_try", Duration::from_secs(60));
    let broker = start_classic_broker(&["-t", "1", "-T", "0.3"]);
    let _w = fetch_worker(&broker, "dropper", &["--drop", "1"]);
    let clients: Vec<Proc> = (1..=3)
        .map(|i| {
            let name = format!("c{i}");
            Proc::spawn(
                &name,
                python("reqclient.py", &[&broker.clients, "2", "--name", &name]),
            )
        })
        .collect();
    for c in clients {
        let name = c.name.clone();
        let (code, lines) = c.wait(LONG);
        assert_eq!(code, Some(0), "{lines:?}");
        assert_eq!(
            lines,
            vec![format!("failure {name}-1"), format!("failure {name}-2")]
        );
    }
    let stats = broker.proc.stop();
    assert_eq!(stat(&stats, "dispatched"), 6, "one try each");
    assert_eq!(stat(&stats, "failed"), 6);
}

#[test]
fn a_late_answer_is_delivered_while_the_retry_is_still_out() {
    let _bomb = time_bomb("classic_late", Duration::from_secs(60));
    let broker = start_classic_broker(&["-t", "2", "-T", "0.8"]);
    // The slow worker asks first, so it gets the first attempt; it answers
    // after 1 s, while the retry sits with a worker that never answers.
    let mut slow = fetch_worker(&broker, "slow", &["--delay", "1.0"]);
    std::thread::sleep(Duration::from_millis(300));
    let mut dropper = fetch_worker(&broker, "dropper", &["--drop", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let (code, lines) = Proc::spawn(
        "client",
        python("reqclient.py", &[&broker.clients, "1", "--name", "c"]),
    )
    .wait(LONG);
    assert_eq!(
        (code, lines),
        (Some(0), vec!["answer c-1 slow:c-1".to_owned()])
    );
    assert_eq!(events(&mut slow)[0], ("task".to_owned(), "c-1".to_owned()));
    assert!(events(&mut dropper).contains(&("drop".to_owned(), "c-1".to_owned())));
    let stats = broker.proc.stop();
    assert_eq!(stat(&stats, "retried"), 1);
    assert_eq!(stat(&stats, "answered"), 1);
    assert_eq!(stat(&stats, "failed"), 0);
}

#[test]
fn fetch_pirate_and_majordomo_workers_serve_one_classic_broker() {
    let _bomb = time_bomb("classic_mixed", Duration::from_secs(90));
    let broker = start_classic_broker(&["-t", "3", "-T", "1", "--backend", "tcp://127.0.0.1:*"]);
    let backend = broker.backend.clone().expect("--backend was given");
    let mut workers = vec![
        Proc::spawn(
            "fetch",
            corsair(&[
                "worker",
                "--dialect",
                "fetch",
                "--connect",
                &broker.workers,
                "--answers",
                &broker.answers,
                "--drop",
                "0.1",
            ]),
        ),
        Proc::spawn("ppp", corsair(&["worker", "--connect", &backend])),
        // A Majordomo worker on the clients' socket, for the default service.
        Proc::spawn(
            "mdp",
            corsair(&[
                "worker",
                "--dialect",
                "mdp",
                "--service",
                "default",
                "--connect",
                &broker.clients,
            ]),
        ),
    ];
    for w in &mut workers {
        w.wait_for("worker ready", LONG);
    }
    std::thread::sleep(Duration::from_millis(300));
    let (code, lines) = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &broker.clients,
            "--threads",
            "4",
            "--requests",
            "25",
        ]),
    )
    .wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let mut answers: Vec<_> = lines.iter().filter(|l| *l != "failure").cloned().collect();
    answers.sort();
    let mut expected: Vec<_> = (1..=4)
        .flat_map(|t| (1..=25).map(move |n| format!("{t}-{n}")))
        .collect();
    expected.sort();
    let failures = lines.len() - answers.len();
    assert_eq!(lines.len(), 100, "{lines:?}");
    assert!(answers.iter().all(|a| expected.contains(a)), "{answers:?}");
    for w in &mut workers {
        let served = w
            .lines_so_far()
            .iter()
            .filter(|l| l.contains("request received"))
            .count();
        assert!(served > 0, "{} served nothing", w.name);
    }
    let stats = broker.proc.stop();
    assert_eq!(stat(&stats, "answered"), answers.len() as u64);
    assert_eq!(stat(&stats, "failed"), failures as u64);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let _bomb = time_bomb("classic_usage", Duration::from_secs(30));
    let any = "tcp://127.0.0.1:*";
    for args in [
        vec!["broker", any, any],
        vec!["broker", "-t", "0", any, any, any],
        vec!["broker", "-T", "-1", any, any, any],
        vec!["broker", "-T", "soon", any, any, any],
    ] {
        let (code, lines) = Proc::spawn("usage", corsair(&args)).wait(LONG);
        assert_eq!(code, Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].starts_with("error: "), "{lines:?}");
    }
}
